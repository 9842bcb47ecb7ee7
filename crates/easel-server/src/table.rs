//! The route table: every route is registered with the access it needs, so that the table
//! can be listed (for the authorisation matrix test and the docs) and can never drift from
//! the router.

use axum::routing::MethodRouter;
use axum::Router;

use crate::AppState;

/// One method on one path, and who may call it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    pub method: &'static str,
    pub path: &'static str,
    /// The permission checked, or `public`, `authenticated`, `own or <permission>`, …
    pub access: &'static str,
}

pub struct Routes {
    pub router: Router<AppState>,
    pub table: Vec<RouteInfo>,
}

impl Default for Routes {
    fn default() -> Self {
        Routes {
            router: Router::new(),
            table: Vec::new(),
        }
    }
}

impl Routes {
    /// Adds `path` with its method router and, for each method it serves, the access it needs.
    pub fn add(
        mut self,
        path: &'static str,
        methods: MethodRouter<AppState>,
        access: &[(&'static str, &'static str)],
    ) -> Routes {
        self.router = self.router.route(path, methods);
        self.table
            .extend(access.iter().map(|(method, access)| RouteInfo {
                method,
                path,
                access,
            }));
        self
    }

    pub fn merge(mut self, other: Routes) -> Routes {
        self.router = self.router.merge(other.router);
        self.table.extend(other.table);
        self
    }
}
