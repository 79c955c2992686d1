/* nicelogin--1.0--1.1.sql: upgrade from 1.0 (ALTER EXTENSION nicelogin UPDATE TO '1.1') */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION nicelogin UPDATE TO '1.1'" to load this file. \quit

-- Every change here has its twin in nicelogin--1.1.sql; sql/upgrade.sql checks that an
-- upgraded installation and a fresh one have the same objects.

-- BEGIN secrets (stored-secret checks)
-- END secrets
