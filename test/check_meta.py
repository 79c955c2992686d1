#!/usr/bin/env python3
"""test/check_meta.py -- META.json against the PGXN Meta Spec 1.0.0 (https://pgxn.org/spec/) and
against the tree it describes.

The spec's rules: a JSON object; the required keys (name, abstract, version, maintainer, license,
provides, meta-spec); every other key one the spec defines or a custom key (x_...), at the top and
inside provides, meta-spec, resources, no_index and prereqs; strings non-empty; name and the
extension names Terms (two characters or more, no slash, backslash, control character or space);
versions SemVer 2.0.0 (three integers, an optional pre-release); license a License String, a List
of them, or a Map of names to URIs; maintainer a String or a List of one or more; provides'
entries with file and version (docfile and abstract optional), paths relative and in unix form;
meta-spec's version 1.0.0; release_status stable, testing or unstable; tags fewer than 256
characters, no slash, backslash or control character; prereqs phases and relationships as the spec
lists them, each a Map of names to Version Ranges (0, or versions with an optional operator,
joined by commas).

The tree's rules: the distribution's version is nicelogin's; provides names every extension that
has a control file here (nicelogin.control, nicelogin_test.control), each with the version of its
control file's default_version (1.3 -> 1.3.0) and, as its file, that version's install script;
files named in provides exist; LICENSE exists; CHANGELOG.md has a heading for nicelogin's version.

Usage: python3 test/check_meta.py [--meta FILE] [ROOT]   (ROOT: the repository, default: this
file's; FILE: default ROOT/META.json).  Prints "META.json is OK", or each fault and exits 1.
No validator of the spec is packaged for Debian or npm (PGXN::Meta::Validator is on CPAN only), so
these are the spec's rules written out.
"""
import json
import os
import re
import sys

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
                    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
                    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$")
LICENSES = {"agpl_3", "apache_1_1", "apache_2_0", "artistic_1", "artistic_2", "bsd", "freebsd",
            "gfdl_1_2", "gfdl_1_3", "gpl_1", "gpl_2", "gpl_3", "lgpl_2_1", "lgpl_3_0", "mit",
            "mozilla_1_0", "mozilla_1_1", "openssl", "perl_5", "postgresql", "qpl_1_0", "ssleay",
            "sun", "zlib", "open_source", "restricted", "unrestricted", "unknown"}
REQUIRED = ("name", "abstract", "version", "maintainer", "license", "provides", "meta-spec")
TOP = set(REQUIRED) | {"description", "generated_by", "tags", "no_index", "prereqs",
                       "release_status", "resources"}
PHASES = {"configure", "build", "test", "runtime", "develop"}
RELATIONS = {"requires", "recommends", "suggests", "conflicts"}
URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
RANGE = re.compile(r"^\s*(?:(?:==|!=|<=|>=|<|>)\s*)?(\S+)\s*$")

errors = []


def fault(msg):
    errors.append(msg)


def custom(key):
    return re.match(r"^x_", key, re.I) is not None


def is_string(v):
    return isinstance(v, str) and len(v) > 0


def is_term(v):
    return is_string(v) and len(v) >= 2 and not re.search(r"[/\\\s\x00-\x1f\x7f]", v)


def is_tag(v):
    return is_string(v) and len(v) < 256 and not re.search(r"[/\\\x00-\x1f\x7f]", v)


def is_path(v):
    return is_string(v) and not v.startswith("/") and "\\" not in v and ".." not in v.split("/")


def keys_known(where, obj, known):
    for k in obj:
        if k not in known and not custom(k):
            fault("%s: unknown key %r (the spec's keys: %s; custom keys start with x_)"
                  % (where, k, ", ".join(sorted(known))))


def check_map(where, v):
    if not isinstance(v, dict):
        fault("%s must be a Map (a JSON object)" % where)
        return False
    return True


def check_spec(meta):
    if not check_map("META.json", meta):
        return
    for k in REQUIRED:
        if k not in meta:
            fault("missing required key %r" % k)
    keys_known("META.json", meta, TOP)
    if "name" in meta and not is_term(meta["name"]):
        fault("name %r is not a Term" % meta["name"])
    if "version" in meta and not (is_string(meta["version"]) and SEMVER.match(meta["version"])):
        fault("version %r is not a SemVer version" % meta["version"])
    for k in ("abstract", "description", "generated_by"):
        if k in meta and not is_string(meta[k]):
            fault("%s must be a non-empty String" % k)
    if "maintainer" in meta:
        m = meta["maintainer"]
        if not (is_string(m) or (isinstance(m, list) and m and all(is_string(x) for x in m))):
            fault("maintainer must be a String or a List of one or more Strings")
    if "license" in meta:
        lic = meta["license"]
        if isinstance(lic, dict):
            if not lic:
                fault("license: an empty Map")
            for name, url in lic.items():
                if not is_string(name) or not (is_string(url) and URI.match(url)):
                    fault("license: %r must map to a URI" % name)
        elif isinstance(lic, (str, list)):
            items = [lic] if isinstance(lic, str) else lic
            if not items:
                fault("license: an empty List")
            for x in items:
                if x not in LICENSES:
                    fault("license: %r is not a License String" % (x,))
        else:
            fault("license must be a Map, a List or a License String")
    if "provides" in meta and check_map("provides", meta["provides"]):
        if not meta["provides"]:
            fault("provides: no extension")
        for ext, p in meta["provides"].items():
            if not is_term(ext):
                fault("provides: %r is not a Term" % ext)
            if not check_map("provides.%s" % ext, p):
                continue
            keys_known("provides.%s" % ext, p, {"file", "version", "abstract", "docfile"})
            for k in ("file", "version"):
                if k not in p:
                    fault("provides.%s: missing required key %r" % (ext, k))
            for k in ("file", "docfile"):
                if k in p and not is_path(p[k]):
                    fault("provides.%s.%s %r is not a relative unix path" % (ext, k, p[k]))
            if "version" in p and not (is_string(p["version"]) and SEMVER.match(p["version"])):
                fault("provides.%s.version %r is not a SemVer version" % (ext, p["version"]))
            if "abstract" in p and not is_string(p["abstract"]):
                fault("provides.%s.abstract must be a non-empty String" % ext)
    if "meta-spec" in meta and check_map("meta-spec", meta["meta-spec"]):
        ms = meta["meta-spec"]
        keys_known("meta-spec", ms, {"version", "url"})
        if ms.get("version") != "1.0.0":
            fault("meta-spec.version is %r; this check knows 1.0.0" % ms.get("version"))
        if "url" in ms and not (is_string(ms["url"]) and URI.match(ms["url"])):
            fault("meta-spec.url is not a URI")
    if "release_status" in meta and meta["release_status"] not in ("stable", "testing", "unstable"):
        fault("release_status %r is not stable, testing or unstable" % meta["release_status"])
    if "tags" in meta:
        tags = meta["tags"] if isinstance(meta["tags"], list) else [meta["tags"]]
        for t in tags:
            if not is_tag(t):
                fault("tags: %r is not a Tag" % (t,))
    if "no_index" in meta and check_map("no_index", meta["no_index"]):
        keys_known("no_index", meta["no_index"], {"file", "directory"})
        for k, v in meta["no_index"].items():
            for x in (v if isinstance(v, list) else [v]):
                if not is_path(x):
                    fault("no_index.%s: %r is not a relative unix path" % (k, x))
    if "resources" in meta and check_map("resources", meta["resources"]):
        r = meta["resources"]
        keys_known("resources", r, {"homepage", "bugtracker", "repository"})
        if "homepage" in r and not (is_string(r["homepage"]) and URI.match(r["homepage"])):
            fault("resources.homepage is not a URI")
        for k, sub in (("bugtracker", {"web", "mailto"}), ("repository", {"url", "web", "type"})):
            if k in r and check_map("resources.%s" % k, r[k]):
                keys_known("resources.%s" % k, r[k], sub)
    if "prereqs" in meta and check_map("prereqs", meta["prereqs"]):
        for phase, rels in meta["prereqs"].items():
            if phase not in PHASES and not custom(phase):
                fault("prereqs: unknown phase %r" % phase)
            if not check_map("prereqs.%s" % phase, rels):
                continue
            for rel, deps in rels.items():
                if rel not in RELATIONS and not custom(rel):
                    fault("prereqs.%s: unknown relationship %r" % (phase, rel))
                if not check_map("prereqs.%s.%s" % (phase, rel), deps):
                    continue
                for name, rng in deps.items():
                    if rng == 0 or rng == "0":
                        continue
                    ok = isinstance(rng, str) and all(
                        (m := RANGE.match(part)) and SEMVER.match(m.group(1)) for part in rng.split(","))
                    if not ok:
                        fault("prereqs.%s.%s.%s: %r is not a Version Range" % (phase, rel, name, rng))


def control_version(path):
    with open(path) as f:
        m = re.search(r"^\s*default_version\s*=\s*'([^']*)'", f.read(), re.M)
    return m.group(1) if m else None


def as_semver(v):
    """A control file's version as SemVer: 1.3 -> 1.3.0 (PGXN wants three numbers)."""
    return v + ".0" if re.match(r"^\d+\.\d+$", v or "") else v


def check_tree(meta, root):
    # the extensions' control files: at the top, and in the test modules' folders (nicelogin_test/)
    where = {}
    for d in [""] + sorted(e for e in os.listdir(root) if os.path.isdir(os.path.join(root, e))):
        for f in os.listdir(os.path.join(root, d)):
            if f.endswith(".control") and "--" not in f:
                where[f[:-len(".control")]] = d
    controls = sorted(where)
    provides = meta.get("provides") if isinstance(meta.get("provides"), dict) else {}
    if sorted(provides) != controls:
        fault("provides names %s; the tree's control files are those of %s"
              % (", ".join(sorted(provides)) or "nothing", ", ".join(controls)))
    for ext in controls:
        want = control_version(os.path.join(root, where[ext], ext + ".control"))
        p = provides.get(ext)
        if not isinstance(p, dict):
            continue
        if p.get("version") != as_semver(want):
            fault("provides.%s.version is %r; %s.control's default_version is %r (as SemVer %r)"
                  % (ext, p.get("version"), ext, want, as_semver(want)))
        script = os.path.join(where[ext], "%s--%s.sql" % (ext, want))
        if p.get("file") != script:
            fault("provides.%s.file is %r; the install script of %s %s is %s"
                  % (ext, p.get("file"), ext, want, script))
        for k in ("file", "docfile"):
            if is_path(p.get(k)) and not os.path.isfile(os.path.join(root, p[k])):
                fault("provides.%s.%s: %s does not exist" % (ext, k, p[k]))
    main = provides.get("nicelogin")
    if isinstance(main, dict) and meta.get("version") != main.get("version"):
        fault("version %r is not nicelogin's (%r)" % (meta.get("version"), main.get("version")))
    if not os.path.isfile(os.path.join(root, "LICENSE")):
        fault("no LICENSE file")
    want = control_version(os.path.join(root, "nicelogin.control"))
    try:
        changelog = open(os.path.join(root, "CHANGELOG.md")).read()
    except OSError:
        fault("no CHANGELOG.md")
    else:
        if not re.search(r"^#+ .*(?<![\d.])%s(?![\d.])" % re.escape(want or "?"), changelog, re.M):
            fault("CHANGELOG.md has no heading for version %s" % want)


def main(argv):
    args = list(argv)
    meta_path = None
    if len(args) >= 2 and args[0] == "--meta":
        meta_path = args[1]
        args = args[2:]
    root = args[0] if args else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    meta_path = meta_path or os.path.join(root, "META.json")
    try:
        with open(meta_path) as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        print("META.json is invalid: %s" % e)
        return 1
    check_spec(meta)
    if isinstance(meta, dict):
        check_tree(meta, root)
    if errors:
        print("META.json is invalid:")
        for e in errors:
            print("  " + e)
        return 1
    print("META.json is OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
