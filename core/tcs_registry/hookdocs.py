"""The hook reference of docs/plugins.md, generated from `hookspecs` so the guide cannot drift from it.

python -m tcs_registry.hookdocs docs/plugins.md     # rewrite the reference section in place
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

from . import hookspecs

START = "<!-- hook-reference: generated from core/tcs_registry/hookspecs.py by python -m tcs_registry.hookdocs -->"
END = "<!-- hook-reference: end -->"


def specs() -> list[tuple[str, object]]:
    """(name, function) of every hook spec, in the order the module defines them."""
    found = [
        (name, function)
        for name, function in vars(hookspecs).items()
        if inspect.isfunction(function) and hasattr(function, f"{hookspecs.PROJECT}_spec")
    ]
    return sorted(found, key=lambda item: item[1].__code__.co_firstlineno)  # type: ignore[attr-defined]


def reference() -> str:
    parts = [START, ""]
    for name, function in specs():
        options = getattr(function, f"{hookspecs.PROJECT}_spec")
        signature = str(inspect.signature(function)).replace("'", "")
        kind = "first result wins" if options.get("firstresult") else "every plugin answers; results collected"
        parts += [f"### `{name}`", "", "```python", f"def {name}{signature}", "```", "", f"*{kind}*", ""]
        parts += [inspect.getdoc(function) or "", ""]
    parts.append(END)
    return "\n".join(parts)


def rewrite(text: str) -> str:
    """``text`` with its reference section replaced by the current one."""
    before, _, rest = text.partition(START)
    _, _, after = rest.partition(END)
    if not rest:
        raise ValueError("the document has no hook reference markers")
    return before + reference() + after


def main(argv: list[str]) -> int:
    path = Path(argv[0] if argv else "docs/plugins.md")
    path.write_text(rewrite(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
