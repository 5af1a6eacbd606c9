"""Credentials left in an image's files: the token formats of the services that issue them, private keys.

Each rule names the keywords a file must hold (case-insensitive) before its pattern is tried, so most
files cost one pass per keyword. Only the rule, the file and the line are kept: the value itself never
leaves this module (a layer record, the store, a report or a log never see it). Files that hold test
data, documentation or third-party code, and the documented example keys, are allowed (as Trivy allows
them), so a finding is worth a look.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..models import Violation

MIN_BYTES = 10
MAX_BYTES = 10 * 1024 * 1024  # a larger file is not read for secrets (logs, data files, archives)
MAX_PER_FILE = 100  # findings kept per file (a dump of keys is one problem, not ten thousand rows)
MAX_PER_LAYER = 1000
MAX_MATCHES = 1000  # matches of one rule looked at in a file (many on one line are one finding)
_ALNUM = rb"(?<![A-Za-z0-9])"  # a token starts where no letter or digit precedes it
_END = rb"(?![A-Za-z0-9])"


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: str
    keywords: tuple[bytes, ...]  # lower case; at least one must be in the file
    pattern: re.Pattern[bytes]  # the secret is its group "secret"


def _rule(id_: str, title: str, severity: str, keywords: Iterable[str], pattern: bytes) -> Rule:
    return Rule(id_, title, severity, tuple(k.lower().encode() for k in keywords), re.compile(pattern))


# (an assignment: `name = value`, `name: "value"`, `"name": "value"`, `name=>value`, with quotes or none)
_ASSIGN = rb"""['"]?\s{0,8}(?:=>|:=|=|:)\s{0,8}['"]?"""
RULES = (
    # cloud providers
    _rule(
        "aws-access-key-id",
        "AWS access key ID",
        "CRITICAL",
        ("AKIA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "ASIA", "A3T"),
        _ALNUM + rb"(?P<secret>(?:A3T[A-Z0-9]|AKIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ASIA)[A-Z0-9]{16})" + _END,
    ),
    _rule(
        "aws-secret-access-key",
        "AWS secret access key",
        "CRITICAL",
        ("key",),
        rb"(?i:aws_?(?:sec(?:ret)?)?_?(?:access)?_?key)"
        + _ASSIGN
        + rb"(?P<secret>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])",
    ),
    _rule(
        "gcp-service-account",
        "Google Cloud service account key",
        "CRITICAL",
        ('"service_account"',),
        rb'"type"\s{0,8}:\s{0,8}"(?P<secret>service_account)"',
    ),
    _rule("google-api-key", "Google API key", "HIGH", ("aiza",), _ALNUM + rb"(?P<secret>AIza[A-Za-z0-9_-]{35})" + _END),
    _rule(
        "azure-storage-account-key",
        "Azure storage account key",
        "CRITICAL",
        ("accountkey",),
        rb"(?i:AccountKey)\s{0,8}=\s{0,8}(?P<secret>[A-Za-z0-9+/]{86}==)",
    ),
    _rule(
        "azure-entra-client-secret",
        "Azure Entra ID client secret",
        "CRITICAL",
        ("8q~",),
        rb"(?<![A-Za-z0-9_~.-])(?P<secret>[A-Za-z0-9_~.-]{3}8Q~[A-Za-z0-9_~.-]{34})(?![A-Za-z0-9_~.-])",
    ),
    _rule(
        "alibaba-access-key-id",
        "Alibaba Cloud AccessKey ID",
        "HIGH",
        ("ltai",),
        _ALNUM + rb"(?P<secret>LTAI[A-Za-z0-9]{20})" + _END,
    ),
    # source hosting and package registries
    _rule(
        "github-pat",
        "GitHub personal access token",
        "CRITICAL",
        ("ghp_",),
        _ALNUM + rb"(?P<secret>ghp_[A-Za-z0-9]{36})",
    ),
    _rule(
        "github-oauth", "GitHub OAuth access token", "CRITICAL", ("gho_",), _ALNUM + rb"(?P<secret>gho_[A-Za-z0-9]{36})"
    ),
    _rule(
        "github-app-token",
        "GitHub app token",
        "CRITICAL",
        ("ghu_", "ghs_"),
        _ALNUM + rb"(?P<secret>ghu_[A-Za-z0-9]{36}|ghs_[A-Za-z0-9._-]{36,})",
    ),
    _rule(
        "github-refresh-token",
        "GitHub refresh token",
        "CRITICAL",
        ("ghr_",),
        _ALNUM + rb"(?P<secret>ghr_[A-Za-z0-9]{76})",
    ),
    _rule(
        "github-fine-grained-pat",
        "GitHub fine-grained personal access token",
        "CRITICAL",
        ("github_pat_",),
        rb"(?P<secret>github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})",
    ),
    _rule(
        "gitlab-pat",
        "GitLab personal access token",
        "CRITICAL",
        ("glpat-",),
        _ALNUM + rb"(?P<secret>glpat-[A-Za-z0-9_-]{20})",
    ),
    _rule(
        "gitlab-token",
        "GitLab token",
        "HIGH",
        ("glptt-", "glrt-", "gldt-", "glft-", "glsoat-", "glcbt-"),
        _ALNUM + rb"(?P<secret>(?:glptt|glrt|gldt|glft|glsoat|glcbt)-[A-Za-z0-9_-]{20,})",
    ),
    _rule(
        "npm-access-token",
        "npm access token",
        "CRITICAL",
        ("npm_",),
        _ALNUM + rb"(?P<secret>npm_[A-Za-z0-9]{36})" + _END,
    ),
    _rule(
        "pypi-upload-token",
        "PyPI upload token",
        "HIGH",
        ("pypi-ageichlwas5vcmc",),
        rb"(?P<secret>pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,1000})",
    ),
    _rule(
        "rubygems-api-token",
        "RubyGems API token",
        "MEDIUM",
        ("rubygems_",),
        _ALNUM + rb"(?P<secret>rubygems_[a-f0-9]{48})" + _END,
    ),
    _rule(
        "private-packagist-token",
        "Private Packagist token",
        "HIGH",
        ("packagist_",),
        rb"(?P<secret>packagist_[ou][ru]t_[a-f0-9]{68})",
    ),
    _rule(
        "dockerhub-pat",
        "Docker Hub personal access token",
        "CRITICAL",
        ("dckr_pat_", "dckr_oat_"),
        _ALNUM + rb"(?P<secret>dckr_(?:pat|oat)_[A-Za-z0-9_-]{27,})",
    ),
    _rule(
        "dockerconfig-secret",
        "Docker config credentials",
        "HIGH",
        (".dockerconfigjson", ".dockercfg"),
        rb"(?i:\.dockerconfigjson|\.dockercfg)\s{0,8}:\s{0,8}\|?\s{0,8}(?P<secret>e[yw][A-Za-z0-9/+=]{16,})",
    ),
    # private keys (the header, an optional RFC 1421 header block, then the first 40 characters of the key:
    # bounded, so a header with no key after it costs nothing; `\n` as a key is written inside JSON)
    _rule(
        "private-key",
        "Private key",
        "HIGH",
        ("-----begin",),
        rb"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----(?:\\[rn]|\s){1,8}"
        rb"(?:[A-Za-z-]{1,30}: [^\r\n\\]{0,200}(?:\\[rn]|\s){1,4}){0,4}(?P<secret>[A-Za-z0-9+/]{40})",
    ),
    _rule(
        "age-secret-key",
        "age secret key",
        "MEDIUM",
        ("age-secret-key-1",),
        rb"(?P<secret>AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})",
    ),
    # messaging, payments, AI and developer services
    _rule(
        "slack-access-token",
        "Slack token",
        "HIGH",
        ("xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-"),
        _ALNUM + rb"(?P<secret>xox[baprs]-[A-Za-z0-9]{10,48})",
    ),
    _rule(
        "slack-web-hook",
        "Slack incoming webhook",
        "MEDIUM",
        ("hooks.slack.com",),
        rb"(?P<secret>https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{43,})",
    ),
    _rule(
        "stripe-secret-token",
        "Stripe secret key",
        "CRITICAL",
        ("sk_live_", "sk_test_", "rk_live_"),
        _ALNUM + rb"(?P<secret>(?i:[sr]k_(?:live|test)_)[A-Za-z0-9]{10,})",
    ),
    _rule(
        "sendgrid-api-token",
        "SendGrid API key",
        "MEDIUM",
        ("sg.",),
        _ALNUM + rb"(?P<secret>SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})" + _END,
    ),
    _rule(
        "shopify-token",
        "Shopify access token",
        "HIGH",
        ("shpat_", "shpca_", "shppa_", "shpss_"),
        rb"(?P<secret>shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32})",
    ),
    _rule(
        "twilio-api-key",
        "Twilio API key",
        "MEDIUM",
        ("twilio",),
        rb"(?i:twilio)[^\n]{0,40}?" + _ALNUM + rb"(?P<secret>SK[0-9a-fA-F]{32})" + _END,
    ),
    _rule(
        "openai-api-key",
        "OpenAI API key",
        "CRITICAL",
        ("t3blbkfj",),
        _ALNUM + rb"(?P<secret>sk-(?:(?:proj|svcacct|admin|service)-)?[A-Za-z0-9_-]{20,100}T3BlbkFJ"
        rb"[A-Za-z0-9_-]{20,100})",
    ),
    _rule(
        "anthropic-api-key",
        "Anthropic API key",
        "CRITICAL",
        ("sk-ant-",),
        _ALNUM + rb"(?P<secret>sk-ant-(?:api|admin)\d\d-[A-Za-z0-9_-]{80,})",
    ),
    _rule(
        "hugging-face-access-token",
        "Hugging Face access token",
        "CRITICAL",
        ("hf_",),
        _ALNUM + rb"(?P<secret>hf_[A-Za-z0-9]{34,40})" + _END,
    ),
    _rule(
        "hashicorp-vault-token",
        "HashiCorp Vault token",
        "HIGH",
        ("hvs.", "hvb."),
        _ALNUM + rb"(?P<secret>hv[sb]\.[A-Za-z0-9_-]{24,})",
    ),
    _rule(
        "databricks-api-token",
        "Databricks access token",
        "MEDIUM",
        ("dapi",),
        _ALNUM + rb"(?P<secret>dapi[a-h0-9]{32})",
    ),
    _rule(
        "pulumi-api-token", "Pulumi access token", "HIGH", ("pul-",), _ALNUM + rb"(?P<secret>pul-[a-f0-9]{40})" + _END
    ),
    _rule(
        "postman-api-token",
        "Postman API key",
        "MEDIUM",
        ("pmak-",),
        rb"(?P<secret>PMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34})",
    ),
    _rule(
        "grafana-api-token", "Grafana API key", "MEDIUM", ("eyjrijoi",), rb"(?P<secret>eyJrIjoi[A-Za-z0-9=_-]{72,92})"
    ),
    _rule(
        "jwt-token",
        "JSON Web Token",
        "MEDIUM",
        (".eyj",),
        _ALNUM + rb"(?P<secret>ey[A-Za-z0-9]{17,}\.ey[A-Za-z0-9/\\_-]{17,}\.(?:[A-Za-z0-9/\\_-]{10,}={0,2})?)",
    ),
)
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
    r"|(?:^|/)(?:\.git|node_modules)/"
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
    if _BINARY.search(data, 0, 300):
        if not path.endswith(".pyc"):
            return []
        data = b"\n".join(_PRINTABLE.findall(data))
    lowered = data.lower()
    found: dict[tuple[str, int], None] = {}
    for rule in RULES:
        if not any(keyword in lowered for keyword in rule.keywords):
            continue
        line, counted = 1, 0  # (lines counted on from the previous match: a rule's matches come in order)
        for tried, match in enumerate(rule.pattern.finditer(data)):
            if tried >= MAX_MATCHES or len(found) >= MAX_PER_FILE:
                break
            if _ALLOWED_VALUES.search(match.group("secret")):
                continue
            line += data.count(b"\n", counted, match.start("secret"))
            counted = match.start("secret")
            found[(rule.id, line)] = None
    return [{"rule": rule, "line": line} for rule, line in sorted(found, key=lambda key: (key[1], key[0]))]


def check_id(rule: str) -> str:
    return CHECK_PREFIX + rule.upper()


CHECK_IDS = tuple(check_id(rule) for rule in RULE_IDS)
_BY_ID = {rule.id: rule for rule in RULES}


def violations(secrets: Iterable[dict[str, Any]], platform: str = "") -> list[Violation]:
    """One violation per secret (found by ``find`` and placed by the inventory: path, layer, removed)."""
    found = []
    for secret in secrets:
        rule = _BY_ID.get(secret["rule"])
        if rule is None:  # a rule of another version of the analyser
            continue
        removed = ", deleted by a later layer but still in the image's layers" if secret.get("removed") else ""
        detail = (
            f"/{secret['path']} line {secret['line']}, in layer {secret['layer_index'] + 1} "
            f"({secret['layer'][:19]}){removed} (value withheld)"
        )
        found.append(Violation(check_id(rule.id), rule.title, rule.severity, detail, REMEDY, platform))
    return found
