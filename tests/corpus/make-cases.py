#!/usr/bin/env python3
"""Writes the bad-input corpus (tests/corpus/cases/ and templates/) from the
synthetic samples in tests/samples/. Every case is a small, explained edit of
a sample; run it again after changing a sample and commit the result.

    python3 tests/corpus/make-cases.py
"""
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
REQUEST = (ROOT / "tests/samples/xnachweis/DE.EvidenceRequest.0101.synthetic-kita-kassel.xml").read_text()
ANSWER = (ROOT / "tests/samples/xestb/xestb.bescheiddatenAntwort.0102.kassel-zusammenveranlagung.xml").read_text()
HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
BODY_START = REQUEST.index("<xn-de:DE.EvidenceRequest.0101")
ROOT_END = "</xn-de:DE.EvidenceRequest.0101>"


def body(text=REQUEST):
    """The request without declaration and comment."""
    return text[text.index("<xn-de:DE.EvidenceRequest.0101"):]


def one(text, old, new):
    assert text.count(old) >= 1, old
    return text.replace(old, new, 1)


def write(name, data):
    path = HERE / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


# --- raw cases: the bytes as they arrive ------------------------------------
write("cases/malformed-not-xml.xml", "this is not XML at all\n")
write("cases/empty.xml", b"")
write("cases/malformed-truncated.xml", REQUEST[: REQUEST.index("<xn-de:Query>") + 40])
write("cases/malformed-mismatched-tag.xml", one(REQUEST, "</xn-de:Query>", "</xn-de:Quer>"))
write("cases/malformed-two-roots.xml", REQUEST + body())
write("cases/malformed-bad-char-ref.xml", one(REQUEST, "Mustermann", "Muster&#x0;mann"))
write(
    "cases/encoding-latin1-bytes-declared-utf8.xml",
    one(REQUEST, "Kita-Gebuehrenstelle (fiktiv)", "Kita-Geb\u00fchrenstelle (fiktiv)").encode("latin-1"),
)
write("cases/encoding-declared-utf16.xml", one(REQUEST, 'encoding="UTF-8"', 'encoding="UTF-16"'))
write("cases/encoding-declared-latin1.xml", one(REQUEST, 'encoding="UTF-8"', 'encoding="ISO-8859-1"'))
write("cases/encoding-utf16-bom.xml", one(REQUEST, 'encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16"))

DT = '<!DOCTYPE xn-de:DE.EvidenceRequest.0101 [\n{}\n]>\n'
def doctype(decl, use_in_name=None):
    text = REQUEST.replace(HEAD, HEAD + DT.format(decl), 1)
    if use_in_name:
        text = one(text, "<xn-bk:FamilyName>Mustermann<", f"<xn-bk:FamilyName>{use_in_name}<")
    return text

write("cases/doctype-xxe-file.xml", doctype('  <!ENTITY xxe SYSTEM "file:///etc/passwd">', "&xxe;"))
write("cases/doctype-xxe-network.xml", doctype('  <!ENTITY xxe SYSTEM "http://127.0.0.1:9/xxe">', "&xxe;"))
write("cases/doctype-parameter-entity.xml",
      doctype('  <!ENTITY % dtd SYSTEM "http://127.0.0.1:9/evil.dtd">\n  %dtd;'))
write("cases/doctype-external-dtd.xml",
      REQUEST.replace(HEAD, HEAD + '<!DOCTYPE xn-de:DE.EvidenceRequest.0101 SYSTEM "http://127.0.0.1:9/x.dtd">\n', 1))
lol = ['  <!ENTITY lol0 "lol">']
for i in range(1, 10):
    lol.append(f'  <!ENTITY lol{i} "' + f"&lol{i-1};" * 10 + '">')
write("cases/doctype-billion-laughs.xml", doctype("\n".join(lol), "&lol9;"))
write("cases/doctype-quadratic-blowup.xml",
      doctype('  <!ENTITY a "' + "a" * 20000 + '">', "&a;" * 2000))
write("cases/doctype-internal-subset-only.xml", doctype('  <!ELEMENT x ANY>'))

nest_body = "<a>" * 2000 + "x" + "</a>" * 2000
write("cases/deep-nesting-body.xml",
      one(REQUEST, "<xn-de:IssuedToken>", f"<xn-de:Nest>{nest_body}</xn-de:Nest><xn-de:IssuedToken>"))
nest_head = "<xn-bk:x>" * 100 + "</xn-bk:x>" * 100
write("cases/deep-nesting-header.xml",
      one(REQUEST, "<xn-bk:identifikation.nachricht>", f"{nest_head}<xn-bk:identifikation.nachricht>"))

# text split into many pieces: libxml2's XSD validation joins them in
# quadratic time (more than 1,000 comments, PIs and CDATA sections together)
write("cases/many-cdata-sections.xml",
      one(REQUEST, "<xn-bk:GivenName>", "<xn-bk:GivenName>" + "x<![CDATA[ab]]>" * 1001))
write("cases/many-comments.xml",
      one(REQUEST, "<xn-bk:GivenName>", "<xn-bk:GivenName>" + "<!--c-->x<?p?>" * 501))

write("cases/unknown-standard.xml",
      one(one(REQUEST, 'standard="XNachweis"', 'standard="XUnbekannt"'),
          'xmlns:xn-de="urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-de-noots"',
          'xmlns:xn-de="urn:example:xunbekannt"'))
write("cases/unknown-version.xml", one(REQUEST, 'version="1.2.0"', 'version="9.9.9"'))
write("cases/invalid-header-no-message-id.xml",
      one(REQUEST, "<xn-bk:nachrichtenUUID>7a1c2b7e-8a44-4d0e-9b7a-0c5e2d9f2011</xn-bk:nachrichtenUUID>", ""))
write("cases/invalid-header-bad-message-id.xml",
      one(REQUEST, "7a1c2b7e-8a44-4d0e-9b7a-0c5e2d9f2011", "not a uuid; DROP TABLE"))
write("cases/invalid-header-no-author.xml",
      REQUEST[: REQUEST.index("<bn-g2g:autor>")] + REQUEST[REQUEST.index("</bn-g2g:autor>") + len("</bn-g2g:autor>"):])
write("cases/xinclude-file.xml",
      one(REQUEST, "<xn-de:IssuedToken>",
          '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd" parse="text"/><xn-de:IssuedToken>'))
write("cases/no-signature.xml", REQUEST)

# --- templates: signed at test time (the corpus test signs them) ------------
write("templates/request.xml", REQUEST)
write("templates/xsd-unknown-element.xml",
      one(REQUEST, "<xn-de:IssuedToken>", "<xn-de:Unbekannt>x</xn-de:Unbekannt><xn-de:IssuedToken>"))
write("templates/xsd-bad-date.xml", one(REQUEST, "1985-04-12", "1985-13-45"))
write("templates/xsd-bad-tax-id.xml", one(REQUEST, "<xn-bk:IDNr>12345678901<", "<xn-bk:IDNr>1234567890X<"))
write("templates/unknown-sender.xml", one(REQUEST, "<bn-beh:kennung>ags:06611000<", "<bn-beh:kennung>ags:99999999<"))
write("templates/unknown-reader.xml", one(REQUEST, "<bn-beh:kennung>fa:2613<", "<bn-beh:kennung>fa:9999<"))
write("templates/missing-tax-id.xml",
      one(REQUEST, "        <xn-bk:IDNr>12345678901</xn-bk:IDNr>\n", ""))
write("templates/tax-id-leading-zero.xml", one(REQUEST, "<xn-bk:IDNr>12345678901<", "<xn-bk:IDNr>02345678901<"))
write("templates/year-in-future.xml",
      one(REQUEST, "<xn-bk:AttributeValue>2024<", "<xn-bk:AttributeValue>2099<"))
write("templates/purpose-unknown.xml",
      one(REQUEST, "urn:xoev-gateway:zweck:kita-beitrag", "urn:xoev-gateway:zweck:werbung"))

FRANKFURT = (ROOT / "tests/samples/xnachweis/DE.EvidenceRequest.0101.synthetic-kita-frankfurt.xml").read_text()
write("templates/request-without-consent.xml", FRANKFURT)

# A tax office sends an XWasser message (type 2010) to a fee office. The
# shipped access rules refuse it (access-denied) before routing; the corpus
# test's service adds one access rule allowing it, so that it reaches
# routing, where no rule covers XWasser: no-route.
XWASSER = (ROOT / "tests/samples/xwasser/quality_report_minimal.xml").read_text()
no_route = one(XWASSER, "<kennung>psw:11113110<", "<kennung>ags:06611000<")
write("templates/no-route.xml", one(no_route, "<kennung>psw:01003110<", "<kennung>fa:2613<"))

# Answers: @REQUEST_ID@ = the id of the XEStB request the gateway forwarded,
# @MESSAGE_ID@ = a fresh message id per use.
answer = one(ANSWER, "5b2e0c1d-3f4a-4b5c-8d6e-7f8091a2b311", "@MESSAGE_ID@")
answer = one(answer, "c0ffee00-0000-4000-8000-000000000011", "@REQUEST_ID@")
write("templates/answer.xml", answer)
write("templates/answer-other-tax-id.xml", answer.replace("12345678901", "22345678901"))
write("templates/answer-other-year.xml", answer.replace("<xestb:veranlagungsjahr>2024<", "<xestb:veranlagungsjahr>2023<"))
write("templates/answer-no-request.xml",
      answer.replace("@REQUEST_ID@", "0badc0de-0000-4000-8000-000000000000"))
write("templates/answer-wrong-reader.xml",
      one(answer, "<bn-beh:kennung>ags:06611000<", "<bn-beh:kennung>ags:06412000<"))
# A fee office sending a tax office's answer type.
write("templates/answer-from-fee-office.xml",
      one(answer, "<bn-beh:kennung>fa:2613<", "<bn-beh:kennung>ags:06412000<"))
print("ok")
