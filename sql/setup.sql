-- setup: install the extension once for the whole suite
CREATE EXTENSION nicelogin;
SELECT extname, extversion, extrelocatable FROM pg_extension WHERE extname = 'nicelogin';
-- an ordinary role with no privilege on the extension's objects
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_nl_app;
RESET client_min_messages;
CREATE ROLE regress_nl_app NOLOGIN;
