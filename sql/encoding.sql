-- encoding: in a database that is not UTF-8, a token whose JSON has a \u escape of a character
-- the server encoding cannot hold (any beyond ASCII in SQL_ASCII) is refused, not an ERROR:
-- PostgreSQL's JSON lexer converts escapes to the server encoding and raises when it cannot.
-- Forged tokens (a garbage signature), escapes in the header or the payload, through every
-- function and the request's token.
SET client_min_messages = warning;
DROP DATABASE IF EXISTS nl_enc_latin1;
DROP DATABASE IF EXISTS nl_enc_ascii;
CREATE DATABASE nl_enc_latin1 ENCODING 'LATIN1' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C';
CREATE DATABASE nl_enc_ascii ENCODING 'SQL_ASCII' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C';
RESET client_min_messages;

\c nl_enc_latin1
\set ECHO none
\i test/fixtures/tokens.sql
\set ECHO all
\set VERBOSITY terse
\i sql/include/encoding_checks.sql

\c nl_enc_ascii
\set ECHO none
\i test/fixtures/tokens.sql
\set ECHO all
\set VERBOSITY terse
\i sql/include/encoding_checks.sql

\c postgres
DROP DATABASE nl_enc_latin1;
DROP DATABASE nl_enc_ascii;
