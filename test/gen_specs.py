#!/usr/bin/env python3
"""Fills the isolation spec templates in test/specs/*.spec.in with the fixture
tokens and key sets of test/fixtures/ (made by gen_fixtures.py), writing
specs/*.spec (the Makefile runs it before the tests; specs/ is not committed).
Placeholders are {{name}}: a token name of tokens.json (filled in as the bare
token), or jwks / jwks_hs / jwks_weak, filled in as a SQL jsonb expression
(base64, because the spec scanner ends a SQL block at any '}').

    python3 test/gen_specs.py                 every spec
    python3 test/gen_specs.py specs/a.spec    the specs named (from test/specs/a.spec.in)"""
import base64
import json
import pathlib
import re
import sys

here = pathlib.Path(__file__).resolve().parent
fixtures = here / "fixtures"
values = json.loads((fixtures / "tokens.json").read_text())
for name in ("jwks", "jwks_hs", "jwks_weak"):
    text = json.dumps(json.loads((fixtures / f"{name}.json").read_text()),
                      separators=(",", ":"))
    values[name] = "convert_from(decode('%s', 'base64'), 'UTF8')::jsonb" % \
        base64.b64encode(text.encode()).decode()

out_dir = here.parent / "specs"
if len(sys.argv) > 1:
    targets = [pathlib.Path(a) for a in sys.argv[1:]]
else:
    targets = [out_dir / t.name[:-3] for t in sorted((here / "specs").glob("*.spec.in"))]
for target in targets:
    template = here / "specs" / (target.name + ".in")
    def fill(m):
        value = values[m.group(1)]
        assert "}" not in value and "\\" not in value, m.group(1)
        return value
    text = re.sub(r"\{\{(\w+)\}\}", fill, template.read_text())
    target.parent.mkdir(exist_ok=True)
    # written whole under another name, then renamed: a spec is never seen half written
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text("# Generated from test/specs/%s by test/gen_specs.py; do not edit.\n%s"
                   % (template.name, text))
    tmp.replace(target)
    print("wrote", target)
