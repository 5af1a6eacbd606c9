"""Credentials left in an image's files: the token formats of the services that issue them, private keys.

Each rule names the keywords a file must hold (case-insensitive) before its pattern is tried, so most
files cost one pass per keyword. Only the rule, the file and the line are kept: the value itself never
leaves this module (a layer record, the store, a report or a log never see it). Files that hold test
data, documentation or third-party code, and the documented example keys, are allowed (as Trivy allows
them), so a finding is worth a look.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any

from ..models import Violation

MIN_BYTES = 10
MAX_BYTES = 64 * 1024 * 1024  # read of a file, at most (a 40 MB JavaScript bundle is read whole)
CHUNK = 8 * 1024 * 1024  # read and searched at a time
OVERLAP = 4 * 1024  # of one window into the next: no token is longer
MAX_PER_FILE = 100  # findings kept per file (a dump of keys is one problem, not ten thousand rows)
MAX_PER_LAYER = 1000
MAX_MATCHES = 1000  # matches of one rule looked at in a file (many on one line are one finding)
_END = rb"(?![A-Za-z0-9])"


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: str
    keywords: tuple[bytes, ...]  # lower case; at least one must be in the file
    pattern: re.Pattern[bytes]  # the secret is its group "secret"
    # no letter or digit may come just before the token (checked in code, not by the pattern: a pattern
    # that starts with its token's first letters is searched for far faster)
    boundary: bool = False


def _rule(id_: str, title: str, severity: str, keywords: Iterable[str], pattern: bytes, boundary: bool = False) -> Rule:
    return Rule(id_, title, severity, tuple(k.lower().encode() for k in keywords), re.compile(pattern), boundary)


def _kv(word: str, value: bytes) -> bytes:
    """``word`` (any case), a few name characters, an assignment, then ``value`` in quotes."""
    assignment = rb")[a-z0-9_ .,-]{0,25}(?:=>|:=|\|\|:|<=|=|>|:)[^\n]{0,5}['\"](?P<secret>"
    return rb"(?i:" + word.encode() + assignment + value + rb")['\"]"


_UUID = rb"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_QUOTED = rb"['\"](?P<secret>%s)['\"]"
# Every repetition bounded (a token is at most 512 characters, a PyPI token 1,000), and none next to another
# that can match the same text: the cost of a search is linear in the file, whatever it holds. Where Trivy's
# rule needs no boundary before the token, neither does ours.
# fmt: off
RULES = (
    # cloud providers
    _rule("aws-access-key-id", "AWS access key ID", "CRITICAL",
          ("AKIA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "ASIA", "A3T"),
          rb"(?P<secret>(?:A3T[A-Z0-9]|AKIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ASIA)[A-Z0-9]{16})" + _END, boundary=True),
    _rule("aws-secret-access-key", "AWS secret access key", "CRITICAL", ("key",),
          rb"(?i:aws_?(?:sec(?:ret)?)?_?(?:access)?_?key)['\"]?[ \t]{0,64}(?:=>|=|:)?[ \t]{0,64}['\"]?"
          rb"(?P<secret>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"),
    _rule("gcp-service-account", "Google Cloud service account key", "CRITICAL", ('"service_account"',),
          rb'"type"\s{0,8}:\s{0,8}"(?P<secret>service_account)"'),
    _rule("google-api-key", "Google API key", "HIGH", ("aiza",), rb"(?P<secret>AIza[A-Za-z0-9_-]{35})"),
    _rule("azure-storage-account-key", "Azure storage account key", "CRITICAL", ("accountkey",),
          rb"(?i:AccountKey)\s{0,8}=\s{0,8}(?P<secret>[A-Za-z0-9+/]{86}==)"),
    _rule("azure-entra-client-secret", "Azure Entra ID client secret", "CRITICAL", ("8q~",),
          rb"(?<![A-Za-z0-9_~.-])(?P<secret>[A-Za-z0-9_~.-]{3}8Q~[A-Za-z0-9_~.-]{34})(?![A-Za-z0-9_~.-])"),
    _rule("azure-sas-token", "Azure shared access signature", "HIGH", ("sig=",),
          rb"sv=\d{4}-\d\d-\d\d(?:[&;][A-Za-z]{1,20}=[^&;\s]{0,200}){1,12}[&;]sig=(?P<secret>[A-Za-z0-9%+/=]{40,512})"),
    _rule("alibaba-access-key-id", "Alibaba Cloud AccessKey ID", "HIGH", ("ltai",),
          rb"(?P<secret>(?i:LTAI)[A-Za-z0-9]{20})(?![A-Za-z0-9])", boundary=True),
    _rule("heroku-api-key", "Heroku API key", "HIGH", ("heroku",), _kv("heroku", _UUID)),
    # source hosting, package registries, CI and infrastructure services
    _rule("github-pat", "GitHub personal access token", "CRITICAL", ("ghp_",),
          rb"(?P<secret>ghp_[A-Za-z0-9]{36})", boundary=True),
    _rule("github-oauth", "GitHub OAuth access token", "CRITICAL", ("gho_",),
          rb"(?P<secret>gho_[A-Za-z0-9]{36})", boundary=True),
    _rule("github-app-token", "GitHub app token", "CRITICAL", ("ghu_", "ghs_"),
          rb"(?P<secret>ghu_[A-Za-z0-9]{36}|ghs_[A-Za-z0-9._-]{36,512})", boundary=True),
    _rule("github-refresh-token", "GitHub refresh token", "CRITICAL", ("ghr_",),
          rb"(?P<secret>ghr_[A-Za-z0-9]{76})", boundary=True),
    _rule("github-fine-grained-pat", "GitHub fine-grained personal access token", "CRITICAL", ("github_pat_",),
          rb"(?P<secret>github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})"),
    _rule("gitlab-pat", "GitLab personal access token", "CRITICAL", ("glpat-",),
          rb"(?P<secret>glpat-[A-Za-z0-9_-]{20})", boundary=True),
    _rule("gitlab-token", "GitLab token", "HIGH", ("glptt-", "glrt-", "gldt-", "glft-", "glsoat-", "glcbt-"),
          rb"(?P<secret>(?:glptt|glrt|gldt|glft|glsoat|glcbt)-[A-Za-z0-9_-]{20,512})", boundary=True),
    _rule("npm-access-token", "npm access token", "CRITICAL", ("npm_",), rb"(?P<secret>npm_[A-Za-z0-9]{36})"),
    _rule("pypi-upload-token", "PyPI upload token", "HIGH", ("pypi-ageichlwas5vcmc",),
          rb"(?P<secret>pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,1000})"),
    _rule("rubygems-api-token", "RubyGems API token", "MEDIUM", ("rubygems_",),
          rb"(?P<secret>rubygems_[a-f0-9]{48})"),
    _rule("private-packagist-token", "Private Packagist token", "HIGH", ("packagist_",),
          rb"(?P<secret>packagist_[ou][ru]t_[a-f0-9]{68})"),
    _rule("clojars-api-token", "Clojars API token", "MEDIUM", ("clojars_",), rb"(?P<secret>(?i:CLOJARS_)[a-z0-9]{60})"),
    _rule("dockerhub-pat", "Docker Hub personal access token", "CRITICAL", ("dckr_pat_", "dckr_oat_"),
          rb"(?P<secret>dckr_(?:pat|oat)_[A-Za-z0-9_-]{27,512})"),
    _rule("dockerconfig-secret", "Docker config credentials", "HIGH", (".dockerconfigjson", ".dockercfg"),
          rb"(?i:\.dockerconfigjson|\.dockercfg)[ \t]{0,64}:[ \t]{0,64}\|?\s{0,256}"
          rb"(?P<secret>e[yw][A-Za-z0-9/+=]{16,512})"),
    _rule("hashicorp-vault-token", "HashiCorp Vault token", "HIGH", ("hvs.", "hvb."),
          rb"(?P<secret>hv[sb]\.[A-Za-z0-9_-]{24,512})", boundary=True),
    _rule("hashicorp-tf-api-token", "HashiCorp Terraform API token", "MEDIUM", ("atlasv1.",),
          _QUOTED % rb"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9=_-]{60,70}"),
    _rule("pulumi-api-token", "Pulumi access token", "HIGH", ("pul-",), rb"(?P<secret>pul-[a-f0-9]{40})"),
    _rule("doppler-api-token", "Doppler API token", "MEDIUM", ("dp.pt.",), _QUOTED % rb"(?i:dp\.pt\.)[A-Za-z0-9]{43}"),
    _rule("dynatrace-api-token", "Dynatrace API token", "MEDIUM", ("dt0c01.",),
          _QUOTED % rb"dt0c01\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}"),
    _rule("planetscale-password", "PlanetScale password", "MEDIUM", ("pscale_pw_",),
          rb"(?P<secret>pscale_pw_[A-Za-z0-9._-]{43})"),
    _rule("planetscale-api-token", "PlanetScale API token", "MEDIUM", ("pscale_tkn_",),
          rb"(?P<secret>pscale_tkn_[A-Za-z0-9._-]{43})"),
    _rule("databricks-api-token", "Databricks access token", "MEDIUM", ("dapi",), rb"(?P<secret>dapi[a-h0-9]{32})"),
    _rule("new-relic-user-api-key", "New Relic user API key", "MEDIUM", ("nrak-",), _QUOTED % rb"NRAK-[A-Z0-9]{27}"),
    _rule("grafana-api-token", "Grafana API key", "MEDIUM", ("eyjrijoi",),
          rb"(?P<secret>eyJrIjoi[A-Za-z0-9=_-]{72,92})"),
    _rule("postman-api-token", "Postman API key", "MEDIUM", ("pmak-",),
          rb"(?P<secret>PMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34})"),
    _rule("linear-api-token", "Linear API key", "MEDIUM", ("lin_api_",), rb"(?P<secret>lin_api_[A-Za-z0-9]{40})"),
    _rule("atlassian-api-token", "Atlassian API token", "HIGH", ("atlassian",), _kv("atlassian", rb"[a-z0-9]{24}")),
    _rule("bitbucket-client-secret", "Bitbucket client secret", "HIGH", ("bitbucket",),
          _kv("bitbucket", rb"[a-z0-9_-]{64}")),
    # private keys: the header only (the rest is looked at in code, below: a pattern for it backtracked)
    _rule("private-key", "Private key", "HIGH", ("-----",),
          rb"(?i:-----[ \t]{0,8}BEGIN[ A-Z0-9_-]{0,100}?PRIVATE KEY(?: BLOCK)?[ \t]{0,8}-----)(?P<secret>)"),
    _rule("age-secret-key", "age secret key", "MEDIUM", ("age-secret-key-1",),
          rb"(?P<secret>AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})"),
    _rule("symfony-default-secret", "Symfony default secret", "HIGH", ("tokenisnotsosecret",),
          rb"(?P<secret>ThisTokenIsNotSoSecretChangeIt|ThisEzPlatformTokenIsNotSoSecret_PleaseChangeIt)"),
    # messaging, payments, mail, AI
    _rule("slack-access-token", "Slack token", "HIGH", ("xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-"),
          rb"(?P<secret>xox[baprs]-[A-Za-z0-9]{10,48})", boundary=True),
    _rule("slack-web-hook", "Slack incoming webhook", "MEDIUM", ("hooks.slack.com",),
          rb"(?P<secret>https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{43,512})"),
    _rule("stripe-secret-token", "Stripe secret key", "CRITICAL", ("sk_live_", "sk_test_", "rk_live_"),
          rb"(?P<secret>(?i:[sr]k_(?:live|test)_)[A-Za-z0-9]{10,512})", boundary=True),
    _rule("stripe-publishable-token", "Stripe publishable key", "LOW", ("pk_live_", "pk_test_"),
          rb"(?P<secret>(?i:pk_(?:live|test)_)[A-Za-z0-9]{10,512})", boundary=True),
    _rule("sendgrid-api-token", "SendGrid API key", "MEDIUM", ("sg.",),
          rb"(?P<secret>SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})"),
    _rule("sendinblue-api-token", "Sendinblue API key", "LOW", ("xkeysib-",),
          rb"(?P<secret>xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16})"),
    _rule("mailgun-token", "Mailgun API key", "MEDIUM", ("mailgun",), _kv("mailgun", rb"(?:pub)?key-[a-f0-9]{32}")),
    _rule("shippo-api-token", "Shippo API key", "LOW", ("shippo_",), rb"(?P<secret>shippo_(?:live|test)_[a-f0-9]{40})"),
    _rule("shopify-token", "Shopify access token", "HIGH", ("shpat_", "shpca_", "shppa_", "shpss_"),
          rb"(?P<secret>shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32})"),
    _rule("twilio-api-key", "Twilio API key", "MEDIUM", ("sk",), rb"(?P<secret>SK[0-9a-fA-F]{32})"),
    _rule("openai-api-key", "OpenAI API key", "CRITICAL", ("t3blbkfj",),
          rb"(?P<secret>sk-(?:(?:proj|svcacct|admin|service)-)?[A-Za-z0-9_-]{20,100}T3BlbkFJ"
          rb"[A-Za-z0-9_-]{20,100})", boundary=True),
    _rule("anthropic-api-key", "Anthropic API key", "CRITICAL", ("sk-ant-",),
          rb"(?P<secret>sk-ant-(?:api|admin)\d\d-[A-Za-z0-9_-]{80,512})", boundary=True),
    _rule("hugging-face-access-token", "Hugging Face access token", "CRITICAL", ("hf_",),
          rb"(?P<secret>hf_[A-Za-z0-9]{34,40})" + _END, boundary=True),
    _rule("jwt-token", "JSON Web Token", "MEDIUM", (".eyj",),
          rb"(?P<secret>e(?<![A-Za-z0-9]e)y[A-Za-z0-9]{17,512}\.ey[A-Za-z0-9/\\_-]{17,512}\.(?:[A-Za-z0-9/\\_-]{10,512}={0,2})?)"),
)
# fmt: on
RULE_IDS = tuple(rule.id for rule in RULES)
CHECK_PREFIX = "TCS-SECRET-"
REMEDY = "Rotate the credential, then rebuild without it (a later layer deleting the file does not remove it)."

# What Trivy's built-in rules leave out, so that every secret it reports is reported here too: test
# data, examples, vendored code, documentation, the OS's and language runtimes' own trees, lock files,
# media and archives, version control, and the kernel's file systems
_ALLOWED_PATHS = re.compile(
    r"\.dist-info/|(?i:^test|/test|-test|_test|\.test)|example|/vendor/|/locales?/|\.md$"
    r"|^usr/(?:share|include|lib)/|^usr/local/go/|^usr/local/lib/python[\d.]+/|^usr/lib/gems/"
    r"|^usr/src/wordpress/|^opt/yarn-v[\d.]+/|^var/log/anaconda/|^(?:proc|sys|dev)/"
    r"|(?:^|/)(?:\.git|node_modules)/|^var/lib/apt/lists/"  # (apt's package indexes: public, signed, big)
    r"|(?:^|/)(?:go\.mod|go\.sum|package-lock\.json|yarn\.lock|pnpm-lock\.yaml|Pipfile\.lock|Gemfile\.lock)$"
    r"|\.(?:jpg|png|gif|doc|pdf|bin|svg|socket|deb|rpm|zip|gz|gzip|tar)$"
)
# documented example values, published on purpose (AWS's AKIAIOSFODNN7EXAMPLE)
_ALLOWED_VALUES = re.compile(rb"example", re.IGNORECASE)
# bytes that make a file binary when they come in its first 300 (text has tabs, line ends, escapes, UTF-8)
_BINARY = re.compile(rb"[\x00-\x06\x0b\x0e-\x1a\x1c-\x1f\x7f]")
_PRINTABLE = re.compile(rb"[\x20-\x7e\xa1-\xac\xae-\xff]{5,}")  # runs of text in compiled Python


def wanted(path: str, size: int) -> bool:
    """Is this file read for secrets? By its path and size alone (its content decides next)."""
    return MIN_BYTES <= size <= MAX_BYTES and not _ALLOWED_PATHS.search(path)


def find(data: bytes, path: str = "") -> list[dict[str, Any]]:
    """The secrets in one file's content: [{"rule", "line"}], each (rule, line) once, in line order.
    A binary file has none, but the strings of compiled Python (``.pyc``) are read as its lines."""
    return search(io.BytesIO(data), path)


def search(source: IO[bytes], path: str = "") -> list[dict[str, Any]]:
    """``find`` on a file read CHUNK bytes at a time (each window overlapping the last by OVERLAP, so a
    token across a boundary is seen), up to MAX_BYTES."""
    data = source.read(CHUNK)
    if _BINARY.search(data, 0, 300):
        if not path.endswith(".pyc"):
            return []
        data = b"\n".join(_PRINTABLE.findall(data + source.read(MAX_BYTES - CHUNK)))
        source = io.BytesIO()
    found: dict[tuple[str, int], None] = {}
    lines_before, read = 0, len(data)  # lines before the window
    while data:
        _search(data, lines_before, found)
        if len(found) >= MAX_PER_FILE or read >= MAX_BYTES:
            break
        more = source.read(min(CHUNK, MAX_BYTES - read))
        if not more:
            break
        read += len(more)
        lines_before += data.count(b"\n", 0, len(data) - OVERLAP)
        data = data[-OVERLAP:] + more
    ordered = sorted(found, key=lambda key: (key[1], key[0]))[:MAX_PER_FILE]
    return [{"rule": rule, "line": line} for rule, line in ordered]


def _search(data: bytes, lines_before: int, found: dict[tuple[str, int], None]) -> None:
    lowered = data.lower()
    for rule in RULES:
        if not any(keyword in lowered for keyword in rule.keywords):
            continue
        line, counted = lines_before + 1, 0  # (counted on from the previous match: a rule's come in order)
        for tried, match in enumerate(rule.pattern.finditer(data)):
            if tried >= MAX_MATCHES or len(found) >= MAX_PER_FILE:
                break
            at = match.start("secret")
            if rule.boundary and at and data[at - 1 : at].isalnum():
                continue
            if rule.id == "private-key":
                at = _key_body(data, match.end())
                if at is None:
                    continue
            elif _ALLOWED_VALUES.search(match.group("secret")):
                continue
            line += data.count(b"\n", counted, at)
            counted = at
            found[(rule.id, line)] = None


_KEY_TEXT = re.compile(rb"[A-Za-z0-9+/=]")


def _key_body(data: bytes, at: int) -> int | None:
    """Where the key after a private key's header starts, if there is one (32 characters of base64 at
    least, not counting RFC 1421 header lines such as ``Proc-Type: 4,ENCRYPTED``), else None. The body
    ends at the next ``-----``: each header costs the text up to the next one, no more."""
    end = data.find(b"-----", at, at + 64 * 1024)
    body = data[at : end if end >= 0 else at + 64 * 1024]
    text = body.replace(b"\\n", b" \n").replace(b"\\r", b" \r")  # JSON's escaped line breaks (same length)
    start, characters, offset = None, 0, 0
    for line in text.splitlines(keepends=True):
        if b":" not in line:
            found = _KEY_TEXT.search(line)
            if found and start is None:
                start = at + offset + found.start()
            characters += len(_KEY_TEXT.findall(line))
        offset += len(line)
    return start if characters >= 32 else None


def check_id(rule: str) -> str:
    return CHECK_PREFIX + rule.upper()


CHECK_IDS = tuple(check_id(rule) for rule in RULE_IDS)
_BY_ID = {rule.id: rule for rule in RULES}


def violations(secrets: Iterable[dict[str, Any]], layers: Sequence[str], platform: str = "") -> list[Violation]:
    """One violation per secret (found by ``find`` and placed by the inventory: path, layer, removed);
    ``layers``: the image's diff_ids, which the secrets' ``layer_index`` count."""
    found = []
    for secret in secrets:
        rule = _BY_ID.get(secret["rule"])
        if rule is None:  # a rule of another version of the analyser
            continue
        again = [str(index + 1) for index in secret.get("again") or ()]
        also = f", again in layer{'s' if len(again) > 1 else ''} {', '.join(again)}" if again else ""
        removed = ", deleted by a later layer but still in the image's layers" if secret.get("removed") else ""
        detail = (
            f"/{secret['path']} line {secret['line']}, in layer {secret['layer_index'] + 1} "
            f"({layers[secret['layer_index']][:19]}){also}{removed} (value withheld)"
        )
        found.append(Violation(check_id(rule.id), rule.title, rule.severity, detail, REMEDY, platform))
    return found
