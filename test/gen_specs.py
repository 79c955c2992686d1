#!/usr/bin/env python3
"""Fills the isolation spec templates in test/specs/*.spec.in with the fixture
tokens and key sets of test/fixtures/ (made by gen_fixtures.py), writing
specs/*.spec.  Placeholders are {{name}}: a token name of tokens.json (filled
in as the bare token), or jwks / jwks_hs / jwks_weak, filled in as a SQL jsonb
expression (base64, because the spec scanner ends a SQL block at any '}')."""
import base64
import json
import pathlib
import re

here = pathlib.Path(__file__).resolve().parent
fixtures = here / "fixtures"
values = json.loads((fixtures / "tokens.json").read_text())
for name in ("jwks", "jwks_hs", "jwks_weak"):
    text = json.dumps(json.loads((fixtures / f"{name}.json").read_text()),
                      separators=(",", ":"))
    values[name] = "convert_from(decode('%s', 'base64'), 'UTF8')::jsonb" % \
        base64.b64encode(text.encode()).decode()

out_dir = here.parent / "specs"
out_dir.mkdir(exist_ok=True)
for template in sorted((here / "specs").glob("*.spec.in")):
    def fill(m):
        value = values[m.group(1)]
        assert "}" not in value and "\\" not in value, m.group(1)
        return value
    text = re.sub(r"\{\{(\w+)\}\}", fill, template.read_text())
    target = out_dir / template.name[:-3]
    target.write_text("# Generated from test/specs/%s by test/gen_specs.py; do not edit.\n%s"
                      % (template.name, text))
    print("wrote", target.relative_to(here.parent))
