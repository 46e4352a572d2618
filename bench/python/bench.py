"""The alternative an integrator would write: verify + validate + sign an XÖV
message in Python with lxml and python-xmlsec, one thread (per core).

Called by `xoev-bench python` (which writes the keys and signed messages) or by
hand through `bench/python/run`. Prints operations per second, median of
--rounds rounds of --secs seconds each; with --json one JSON object.
"""

import argparse
import json
import platform
import statistics
import sys
import time
import tomllib
from pathlib import Path

import lxml.etree as etree
import xmlsec

DS = "http://www.w3.org/2000/09/xmldsig#"


class CatalogueResolver(etree.Resolver):
    """Maps the remote schema locations of schemas/catalogue.toml to local files
    (the same mapping the gateway uses; nothing is fetched)."""

    def __init__(self, schemas: Path):
        super().__init__()
        cat = tomllib.loads((schemas / "catalogue.toml").read_text())
        self.exact = {k: schemas / v for k, v in cat.get("remote", {}).items()}
        self.prefix = {k: schemas / v for k, v in cat.get("remote_prefix", {}).items()}

    def resolve(self, url, pubid, context):
        if url in self.exact:
            return self.resolve_filename(str(self.exact[url]), context)
        for p, d in self.prefix.items():
            if url.startswith(p):
                return self.resolve_filename(str(d / url[len(p):]), context)
        return None


def hardened_parser():
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def load_schema(schemas: Path, entry: str):
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(CatalogueResolver(schemas))
    doc = etree.parse(str(schemas / entry), parser)
    return etree.XMLSchema(doc)


def rate(secs, fn):
    for _ in range(20):
        fn()
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < secs:
        for _ in range(10):
            fn()
        n += 10
    return n / (time.perf_counter() - start)


class Signer:
    def __init__(self, key_file, cert_file, algorithm):
        self.key = xmlsec.Key.from_file(key_file, xmlsec.constants.KeyDataFormatPem)
        self.key.load_cert_from_file(cert_file, xmlsec.constants.KeyDataFormatPem)
        self.algorithm = algorithm

    def sign(self, root):
        sig = xmlsec.template.create(root, xmlsec.Transform.EXCL_C14N, self.algorithm)
        root.append(sig)
        ref = xmlsec.template.add_reference(sig, xmlsec.Transform.SHA256, uri="")
        xmlsec.template.add_transform(ref, xmlsec.Transform.ENVELOPED)
        xmlsec.template.add_transform(ref, xmlsec.Transform.EXCL_C14N)
        ki = xmlsec.template.ensure_key_info(sig)
        xmlsec.template.add_x509_data(ki)
        ctx = xmlsec.SignatureContext()
        ctx.key = self.key
        ctx.sign(sig)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--schemas", required=True, type=Path, help="schemas/ (with catalogue.toml)")
    ap.add_argument("--xsd", required=True, help="entry XSD relative to --schemas")
    ap.add_argument("--signed", required=True, type=Path, help="message signed with ECDSA (chain in KeyInfo)")
    ap.add_argument("--trusted", required=True, type=Path, help="trusted root CA (PEM)")
    ap.add_argument("--ec-key", required=True)
    ap.add_argument("--ec-cert", required=True)
    ap.add_argument("--rsa-key", required=True)
    ap.add_argument("--rsa-cert", required=True)
    ap.add_argument("--secs", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    signed = a.signed.read_bytes()
    schema = load_schema(a.schemas, a.xsd)
    manager = xmlsec.KeysManager()
    manager.load_cert(str(a.trusted), xmlsec.constants.KeyDataFormatPem, xmlsec.constants.KeyDataTypeTrusted)
    ec = Signer(a.ec_key, a.ec_cert, xmlsec.Transform.ECDSA_SHA256)
    rsa = Signer(a.rsa_key, a.rsa_cert, xmlsec.Transform.RSA_SHA256)

    def parse(b=signed):
        return etree.fromstring(b, hardened_parser())

    def verify(root):
        node = root.find(f"{{{DS}}}Signature")
        if node is None:
            raise ValueError("no signature")
        ctx = xmlsec.SignatureContext(manager)
        ctx.verify(node)  # raises xmlsec.Error when invalid
        return node

    def strip(root, node):
        root.remove(node)

    # Correctness first: a tampered copy must fail, the signed one verify and validate.
    root = parse()
    strip(root, verify(root))
    if not schema.validate(root):
        sys.exit(f"sample does not validate: {schema.error_log}")
    unsigned = etree.tostring(root)
    tampered = signed.replace(b"Muster", b"Mustre", 1)
    try:
        verify(parse(tampered))
        sys.exit("a tampered message verified: the baseline is broken")
    except xmlsec.Error:
        pass
    stripped = parse(unsigned)

    def parse_verify():
        verify(parse())

    def parse_sign(signer):
        def f():
            r = parse(unsigned)
            signer.sign(r)
            etree.tostring(r)
        return f

    def pipeline(signer):
        def f():
            r = parse()
            strip(r, verify(r))
            if not schema.validate(r):
                raise ValueError("invalid")
            signer.sign(r)
            etree.tostring(r)
        return f

    cases = {
        "parse": lambda: parse(),
        "validate_parsed": lambda: schema.validate(stripped),
        "parse_verify_ec": parse_verify,
        "parse_sign_ec": parse_sign(ec),
        "parse_sign_rsa": parse_sign(rsa),
        "pipeline_ec": pipeline(ec),
        "pipeline_rsa_sign": pipeline(rsa),
    }
    rounds = {k: [] for k in cases}
    for _ in range(a.rounds):
        for k, f in cases.items():
            rounds[k].append(rate(a.secs, f))
    out = {
        "python": platform.python_version(),
        "lxml": etree.__version__,
        "libxml2": ".".join(map(str, etree.LIBXML_VERSION)),
        "xmlsec": xmlsec.__version__ if hasattr(xmlsec, "__version__") else "?",
        "message_bytes": len(signed),
        "rates": {k: statistics.median(v) for k, v in rounds.items()},
    }
    if a.json:
        print(json.dumps(out))
    else:
        for k, v in out["rates"].items():
            print(f"{k:<20} {v:>10.0f}/s")


if __name__ == "__main__":
    main()
