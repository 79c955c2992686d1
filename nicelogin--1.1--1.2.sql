/* nicelogin--1.1--1.2.sql: upgrade from 1.1 (ALTER EXTENSION nicelogin UPDATE TO '1.2') */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION nicelogin UPDATE TO '1.2'" to load this file. \quit

-- Every change here has its twin in nicelogin--1.2.sql; sql/upgrade.sql checks that an
-- upgraded installation and a fresh one have the same objects.

-- 1.2: security (the 1.0 upgrade path, cached refusals, bounded masking, identity from the request)

-- 1.2: deployments (logical replication, pg_upgrade)

-- 1.2: PostgREST (the public key set, reload notifications)
