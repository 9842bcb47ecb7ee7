-- Sessions opened with an API key have no row (their tokens carry them); what ends them all
-- at once, a password change, is kept per user instead: tokens of key sessions that started
-- before `revoked_before` (milliseconds since the epoch) are refused.
CREATE TABLE user_session_cutoffs (
    user_uid TEXT PRIMARY KEY REFERENCES users (uid) ON DELETE CASCADE,
    revoked_before BIGINT NOT NULL
);
