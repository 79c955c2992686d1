"""What the benchmarks in bench/ share: psql against the benchmark's
database (PGHOST/PGPORT/PGUSER from the environment, a superuser), SQL
literals, and a fresh database with nicelogin and the fixture key set."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "test", "fixtures")
JWKS = open(os.path.join(FIXTURES, "jwks.json")).read()


def psql(sql, db):
    """Runs sql in db (unaligned, tuples only); exits with psql's error on failure."""
    out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db],
                         input=sql, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("psql failed:\n%s\n%s" % (sql[:2000], out.stderr))
    return out.stdout


def lit(s):
    """s as a SQL string literal."""
    return "'" + s.replace("'", "''") + "'"


def fresh_database(db):
    """Drops and creates db, with nicelogin and the fixture key set stored."""
    psql("DROP DATABASE IF EXISTS %s;" % db, db="postgres")
    psql("CREATE DATABASE %s;" % db, db="postgres")
    psql("CREATE EXTENSION nicelogin; SELECT nicelogin_set_jwks(%s);" % lit(JWKS), db=db)
