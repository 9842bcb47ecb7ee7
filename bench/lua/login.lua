-- Password sign-in with the bench's admin.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format('{"emailId":"%s","org":"%s","password":"%s"}',
  os.getenv("EMAIL"), os.getenv("ORG"), os.getenv("PASSWORD"))
