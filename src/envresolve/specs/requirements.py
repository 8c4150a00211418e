"""pip requirements files, with pip's syntax.

Supported: `-r`/`-c` includes relative to the including file (with cycle detection), `-i/--index-url`,
`--extra-index-url`, `-f/--find-links`, `--no-index` and the other global options, per-requirement
`--hash`, PEP 508 markers, `${VAR}` expansion from a mapping the caller passes (pip's rule: upper case,
digits and `_`), direct URLs (`name @ url`, bare archive/wheel URLs), VCS references (`git+https://...`),
editables (`-e`), local paths, line continuations and comments.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from pydantic import SecretStr

from envresolve._redact import has_credentials, redact_text, redact_url
from envresolve.diagnostics import Diagnostic, Location, Severity, make
from envresolve.errors import InputError
from envresolve.limits import EXCERPT_CHARS, MAX_INCLUDE_BYTES, MAX_INCLUDE_DEPTH, MAX_INCLUDE_FILES, MAX_VERSION_DIGITS
from envresolve.specs._locate import Locator, plain_locator
from envresolve.specs._text import read_spec_text
from envresolve.specs.model import IndexUrl, PipRequirement

__all__ = ["Locator", "ParsedRequirements", "RequirementsParser", "parse_requirements_file"]


#: a run of digits no version needs (`idna==999...`): refused before packaging converts it to an int
_LONG_NUMBER = re.compile(rf"[0-9]{{{MAX_VERSION_DIGITS + 1},}}")
_ENV_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")
_COMMENT = re.compile(r"(^|\s+)#.*$")
_URL = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*\+)?[A-Za-z][A-Za-z0-9+.-]*://")
_VCS = ("git+", "hg+", "svn+", "bzr+")
_EGG = re.compile(r"[#&]egg=([A-Za-z0-9_.\-]+)")
_ARCHIVE = (".whl", ".tar.gz", ".tgz", ".zip", ".tar.bz2", ".tar.xz", ".tar")

# options pip accepts in a requirements file, and whether they take a value
_GLOBAL_OPTIONS: dict[str, bool] = {
    "-i": True,
    "--index-url": True,
    "--extra-index-url": True,
    "--no-index": False,
    "-c": True,
    "--constraint": True,
    "-r": True,
    "--requirement": True,
    "-e": True,
    "--editable": True,
    "-f": True,
    "--find-links": True,
    "--no-binary": True,
    "--only-binary": True,
    "--prefer-binary": False,
    "--require-hashes": False,
    "--pre": False,
    "--trusted-host": True,
    "--use-feature": True,
}
_PER_REQ_OPTIONS: dict[str, bool] = {
    "--hash": True,
    "--config-settings": True,
    "-C": True,
    "--global-option": True,
    "--install-option": True,
}


@dataclass
class ParsedRequirements:
    """What a requirements text declares."""

    pip: list[PipRequirement] = field(default_factory=list)
    indexes: list[IndexUrl] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    no_index: bool = False
    files: list[str] = field(default_factory=list)

    def extend(self, other: ParsedRequirements) -> None:
        self.pip += other.pip
        self.indexes += other.indexes
        self.diagnostics += other.diagnostics
        self.no_index = self.no_index or other.no_index
        self.files += other.files


def _default_locator(file: str) -> Locator:
    return plain_locator(file)


def _logical_lines(text: str) -> list[tuple[int, int, str]]:
    """(first physical line, column of first non-blank, text) for each logical line, continuations joined."""
    out: list[tuple[int, int, str]] = []
    buf: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not buf:
            start = number
        # a comment line ends a continuation the way pip's join_lines does
        if buf and line.lstrip().startswith("#"):
            out.append((start, 1, " ".join(buf)))
            buf = []
            start = number
        if line.endswith("\\") and not _COMMENT.search(line[:-1]):
            buf.append(line[:-1])
            continue
        buf.append(line)
        joined = "".join(buf) if len(buf) > 1 else buf[0]
        out.append((start, 1, joined))
        buf = []
    if buf:
        out.append((start, 1, "".join(buf)))
    result: list[tuple[int, int, str]] = []
    for ln, _c, content in out:
        stripped = _COMMENT.sub("", content)
        if not stripped.strip():
            continue
        col = len(stripped) - len(stripped.lstrip()) + 1
        result.append((ln, col, stripped.strip()))
    return result


class RequirementsParser:
    """Parses requirements text; one instance per top-level file (it remembers the include chain)."""

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        embedded: bool = False,
        allow_outside_includes: bool = False,
    ) -> None:
        self.env: Mapping[str, str] = env if env is not None else {}
        self.embedded = embedded  # text lives inside a manifest: no file system next to it
        self.allow_outside_includes = allow_outside_includes
        #: the directory tree includes must stay in: the first file's (or text's) directory, symlinks resolved
        self.root: Path | None = None
        #: every (file, as constraints) read, so a diamond of includes reads each file once per role
        self._visited: set[tuple[Path, bool]] = set()
        self._included_bytes = 0

    # -- public entry points -------------------------------------------------------------------------------
    def parse_file(self, path: Path, *, constraint: bool = False, _chain: tuple[Path, ...] = ()) -> ParsedRequirements:
        """Parse a requirements file (and its includes). Raises `InputError` when the top file is unreadable."""
        resolved = path.resolve()
        if self.root is None:
            self.root = path.parent.resolve()  # the directory the spec was named in (it may be a symlink)
        self._visited.add((resolved, constraint))
        text = read_spec_text(path)
        if _chain:
            self._included_bytes += len(text)
            if self._included_bytes > MAX_INCLUDE_BYTES:
                raise InputError(
                    make(
                        "SP161",
                        f"includes exceed the budget of {MAX_INCLUDE_BYTES} bytes in all; {path} not read",
                        subject=str(path),
                    )
                )
        result = self.parse_text(
            text,
            file=str(path),
            base_dir=path.parent,
            locate=_default_locator(str(path)),
            constraint=constraint,
            _chain=(*_chain, resolved),
        )
        result.files.insert(0, str(path))
        return result

    def parse_text(
        self,
        text: str,
        *,
        file: str,
        base_dir: Path | None,
        locate: Locator | None = None,
        constraint: bool = False,
        _chain: tuple[Path, ...] = (),
    ) -> ParsedRequirements:
        """Parse requirements text. `locate` maps positions in `text` to positions in the real file."""
        loc = locate or _default_locator(file)
        if self.root is None and base_dir is not None:
            self.root = base_dir.resolve()
        result = ParsedRequirements()
        invalid: list[Diagnostic] = []
        parsed = 0
        for line, col, content in _logical_lines(text):
            one = self.parse_line(
                content, loc(line, col), base_dir=base_dir, file=file, constraint=constraint, _chain=_chain
            )
            parsed += len(one.pip)
            bad = [d for d in one.diagnostics if d.code == "SP121" and d.location and d.location.file == file]
            invalid.extend(bad)
            one.diagnostics = [d for d in one.diagnostics if d not in bad]
            result.extend(one)
        if len(_chain) > 1 and _not_requirements(invalid, parsed):
            # an included netrc or passwd file: nothing of it is used or quoted, one finding says what it is
            return ParsedRequirements(diagnostics=[_not_requirements_file(invalid, file)])
        result.diagnostics.extend(invalid)
        return result

    def parse_line(
        self,
        content: str,
        location: Location,
        *,
        base_dir: Path | None,
        file: str,
        constraint: bool = False,
        _chain: tuple[Path, ...] = (),
    ) -> ParsedRequirements:
        """One logical line (comments already removed): an option line or a requirement."""
        result = ParsedRequirements()
        raw = content.strip()
        if not raw:
            return result
        expanded = self._expand(raw, location, result)
        if expanded.startswith("-"):
            self._option_line(raw, expanded, location, result, base_dir, file, constraint, _chain)
        else:
            self._requirement_line(raw, expanded, location, result, base_dir, constraint, editable=False)
        return result

    # -- helpers -------------------------------------------------------------------------------------------
    def _expand(self, raw: str, location: Location, result: ParsedRequirements) -> str:
        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name in self.env:
                return self.env[name]
            result.diagnostics.append(
                make(
                    "SP123",
                    f"${{{name}}} is not set; pip would keep the text literally",
                    subject=name,
                    location=location,
                    hint=f"set {name} in the environment that runs pip (and pass it to lint)",
                )
            )
            return m.group(0)

        return _ENV_VAR.sub(sub, raw)

    def _split(self, text: str, location: Location, result: ParsedRequirements) -> list[str] | None:
        try:
            return shlex.split(text, comments=False, posix=True)
        except ValueError as exc:
            result.diagnostics.append(
                make(
                    "SP121",
                    f"cannot split the line into arguments: {exc}",
                    subject=redact_text(text),
                    location=location,
                )
            )
            return None

    def _option_line(
        self,
        raw: str,
        expanded: str,
        location: Location,
        result: ParsedRequirements,
        base_dir: Path | None,
        file: str,
        constraint: bool,
        chain: tuple[Path, ...],
    ) -> None:
        tokens = self._split(expanded, location, result)
        raw_tokens = self._split(raw, location, ParsedRequirements()) or []
        if tokens is None:
            return
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            opt, value = tok, None
            if tok.startswith("--") and "=" in tok:
                opt, value = tok.split("=", 1)
            elif tok.startswith("-") and not tok.startswith("--") and len(tok) > 2 and tok[:2] in _GLOBAL_OPTIONS:
                opt, value = tok[:2], tok[2:]
            takes = _GLOBAL_OPTIONS.get(opt, _PER_REQ_OPTIONS.get(opt))
            if takes is None:
                result.diagnostics.append(
                    make(
                        "SP122",
                        f"pip does not accept the option {opt!r} in a requirements file",
                        subject=opt,
                        location=location,
                    )
                )
                i += 1
                continue
            if takes and value is None:
                if i + 1 >= len(tokens):
                    result.diagnostics.append(
                        make("SP121", f"option {opt} needs a value", subject=opt, location=location)
                    )
                    return
                value = tokens[i + 1]
                raw_value = raw_tokens[i + 1] if i + 1 < len(raw_tokens) else value
                i += 2
            else:
                raw_value = value or ""
                if value is not None and i < len(raw_tokens) and "=" in raw_tokens[i]:
                    raw_value = raw_tokens[i].split("=", 1)[1]
                i += 1
            if opt in ("-e", "--editable"):
                rest = " ".join(tokens[i:])
                self._requirement_line(
                    raw_value, f"{value} {rest}".strip(), location, result, base_dir, constraint, editable=True
                )
                return
            self._global_option(opt, value or "", raw_value, location, result, base_dir, file, chain)

    def _global_option(
        self,
        opt: str,
        value: str,
        raw_value: str,
        location: Location,
        result: ParsedRequirements,
        base_dir: Path | None,
        file: str,
        chain: tuple[Path, ...],
    ) -> None:
        if opt in ("-i", "--index-url", "--extra-index-url", "-f", "--find-links"):
            kind: Literal["index-url", "extra-index-url", "find-links"] = (
                "index-url"
                if opt in ("-i", "--index-url")
                else "extra-index-url"
                if opt == "--extra-index-url"
                else "find-links"
            )
            result.indexes.append(_index(kind, value, raw_value, location, result.diagnostics))
        elif opt == "--no-index":
            result.no_index = True
        elif opt in ("-r", "--requirement", "-c", "--constraint"):
            self._include(value, location, result, base_dir, file, chain, constraint=opt in ("-c", "--constraint"))

    def _include(
        self,
        target: str,
        location: Location,
        result: ParsedRequirements,
        base_dir: Path | None,
        file: str,
        chain: tuple[Path, ...],
        *,
        constraint: bool,
    ) -> None:
        what = "constraints file" if constraint else "requirements file"
        if _URL.match(target):
            result.diagnostics.append(
                make(
                    "SP124",
                    f"{what} {redact_url(target)} is remote; lint does not fetch it",
                    severity=Severity.WARNING,
                    subject=redact_url(target),
                    location=location,
                )
            )
            return
        if self.embedded or base_dir is None:
            result.diagnostics.append(
                make(
                    "SP124",
                    f"{what} {target!r} cannot exist: only the embedded text is mounted into the loader job",
                    subject=target,
                    location=location,
                    hint="paste its content into the embedded requirements instead",
                )
            )
            return
        path = (base_dir / target) if not Path(target).is_absolute() else Path(target)
        resolved = path.resolve()
        root = self.root or base_dir.resolve()
        if not self.allow_outside_includes and not resolved.is_relative_to(root):
            result.diagnostics.append(
                make(
                    "SP160",
                    f"{what} {_excerpt(target)!r} is outside the spec's directory {root}; not read",
                    subject=_excerpt(target),
                    location=location,
                    hint="pass --allow-outside-includes (API: allow_outside_includes=True) if it is trusted",
                )
            )
            return
        if resolved in chain:
            result.diagnostics.append(
                make(
                    "SP125",
                    f"{what} {target!r} includes itself through " + " -> ".join(p.name for p in (*chain, resolved)),
                    subject=target,
                    location=location,
                )
            )
            return
        if (resolved, constraint) in self._visited:
            return  # read once already (a diamond): its requirements are in the result
        if len(self._visited) >= MAX_INCLUDE_FILES:
            result.diagnostics.append(
                make(
                    "SP161",
                    f"includes exceed the budget of {MAX_INCLUDE_FILES} files; {what} {_excerpt(target)!r} not read",
                    subject=_excerpt(target),
                    location=location,
                )
            )
            return
        if len(chain) >= MAX_INCLUDE_DEPTH:
            result.diagnostics.append(
                make(
                    "SP125",
                    f"includes nested deeper than {MAX_INCLUDE_DEPTH} files",
                    subject=target,
                    location=location,
                )
            )
            return
        if not path.exists():
            result.diagnostics.append(
                make(
                    "SP124",
                    f"{what} {target!r} does not exist (looked for {path})",
                    subject=target,
                    location=location,
                )
            )
            return
        try:
            sub = self.parse_file(path, constraint=constraint, _chain=chain)
        except InputError as exc:
            result.diagnostics.extend(exc.diagnostics)
            return
        result.extend(sub)

    def _requirement_line(
        self,
        raw: str,
        expanded: str,
        location: Location,
        result: ParsedRequirements,
        base_dir: Path | None,
        constraint: bool,
        *,
        editable: bool,
    ) -> None:
        # split the requirement from its per-requirement options (`--hash=...`)
        req_text, opts = _split_options(expanded)
        raw_req, _ = _split_options(raw)
        hashes: list[str] = []
        if opts:
            tokens = self._split(opts, location, result) or []
            i = 0
            while i < len(tokens):
                tok = tokens[i]
                opt, given = tok, None
                if tok.startswith("--") and "=" in tok:
                    opt, given = tok.split("=", 1)
                if opt not in _PER_REQ_OPTIONS:
                    result.diagnostics.append(
                        make(
                            "SP122",
                            f"pip does not accept the option {opt!r} after a requirement",
                            subject=opt,
                            location=location,
                        )
                    )
                    i += 1
                    continue
                if given is None:
                    given = tokens[i + 1] if i + 1 < len(tokens) else ""
                    i += 2
                else:
                    i += 1
                if opt == "--hash":
                    hashes.append(given)
        req = _parse_requirement(
            req_text, raw_req, location, result.diagnostics, base_dir, editable=editable, embedded=self.embedded
        )
        if req is None:
            return
        result.pip.append(req.model_copy(update={"hashes": tuple(hashes), "constraint": constraint}))


def _excerpt(text: str) -> str:
    """At most `EXCERPT_CHARS` characters of a line: diagnostics quote lines, never reproduce whole files."""
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def _not_requirements(invalid: list[Diagnostic], parsed: int) -> bool:
    """Whether most lines of a file do not parse: it is no requirements file (a netrc, a passwd file)."""
    return len(invalid) >= 3 and len(invalid) > parsed


def _not_requirements_file(invalid: list[Diagnostic], file: str) -> Diagnostic:
    """One SP121 for a file that is no requirements file; it quotes none of its lines."""
    return make(
        "SP121",
        f"{file} does not parse as a requirements file: {len(invalid)} of its lines are not requirements; "
        "none of it is used",
        subject=file,
        location=invalid[0].location,
        hint="is this the file you meant to include?",
    )


def _split_options(text: str) -> tuple[str, str]:
    """`req --hash=x --hash=y` -> (`req`, `--hash=x --hash=y`)."""
    m = re.search(r"(?:^|\s)(--?[A-Za-z])", text)
    if not m:
        return text.strip(), ""
    return text[: m.start()].strip(), text[m.start() :].strip()


_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>;]+")


def _credential_free(raw: str) -> bool:
    """True when no URL in the written text has literal credentials (`${VAR}` placeholders are the safe way)."""
    text = _ENV_VAR.sub("", raw)
    return not any(has_credentials(m.group(0)) for m in _URL_IN_TEXT.finditer(text))


def _index(
    kind: Literal["index-url", "extra-index-url", "find-links"],
    value: str,
    raw_value: str,
    location: Location,
    diags: list[Diagnostic],
) -> IndexUrl:
    display = redact_url(value)
    creds = has_credentials(value)
    if not _credential_free(raw_value):
        diags.append(
            make(
                "SP220",
                f"{kind} URL carries credentials: {redact_url(raw_value)}",
                subject=redact_url(raw_value),
                location=location,
                hint="use ${VAR} placeholders, a netrc file or keyring instead of literal credentials",
            )
        )
    if value.startswith("http://"):
        diags.append(make("SP221", f"{kind} is plain http: {display}", subject=display, location=location))
    return IndexUrl(kind=kind, display=display, url=SecretStr(value), has_credentials=creds, location=location)


def _name_from_url(url: str) -> str:
    m = _EGG.search(url)
    if m:
        return str(canonicalize_name(m.group(1)))
    path = urlsplit(url.split("+", 1)[-1] if url.startswith(_VCS) else url).path.rstrip("/")
    base = path.rsplit("/", 1)[-1]
    if base.endswith(".whl"):
        try:
            return str(parse_wheel_filename(base)[0])
        except InvalidWheelFilename:
            pass
    for ext in _ARCHIVE:
        if base.endswith(ext):
            base = base[: -len(ext)]
            base = re.split(r"-\d", base, maxsplit=1)[0]
            break
    if base.endswith(".git"):
        base = base[:-4]
    return str(canonicalize_name(base)) if base else ""


def _parse_requirement(
    text: str,
    raw: str,
    location: Location,
    diags: list[Diagnostic],
    base_dir: Path | None,
    *,
    editable: bool,
    embedded: bool,
) -> PipRequirement | None:
    shown_raw = redact_text(raw)
    if not _credential_free(raw):
        diags.append(
            make(
                "SP220",
                f"requirement URL carries credentials: {shown_raw}",
                subject=shown_raw,
                location=location,
                hint="use ${VAR} placeholders, a netrc file or keyring instead of literal credentials",
            )
        )
    # direct URL / VCS without `name @`: pip's URL form, `url ; marker`
    if _URL.match(text) or text.startswith(_VCS):
        url, _, marker = text.partition("; ")
        url = url.strip()
        name = _name_from_url(url)
        return PipRequirement(
            name=name,
            requirement=f"{name} @ {redact_url(url)}" if name else redact_url(url),
            raw=shown_raw,
            marker=marker.strip() or None,
            url=redact_url(url),
            editable=editable,
            location=location,
        )
    # local paths: `.`, `./pkg`, `/abs/pkg`, `pkg/`, archives
    if _is_path(text):
        path_text, _, marker = text.partition("; ")
        path_text = path_text.strip()
        if embedded or base_dir is None:
            diags.append(
                make(
                    "SP124",
                    f"local path {path_text!r} cannot exist inside the loader job (only the embedded text is mounted)",
                    subject=path_text,
                    location=location,
                )
            )
        else:
            p = Path(path_text) if Path(path_text).is_absolute() else base_dir / path_text
            if not p.exists():
                diags.append(
                    make(
                        "SP124",
                        f"local path {_excerpt(path_text)!r} does not exist",
                        subject=_excerpt(path_text),
                        location=location,
                    )
                )
        name = _name_from_url("file:///" + path_text.lstrip("/")) or path_text
        if path_text in (".", "./"):
            name = (base_dir.resolve().name if base_dir else "") or "."
        return PipRequirement(
            name=str(canonicalize_name(name)) if re.match(r"^[A-Za-z0-9._-]+$", name) else name,
            requirement=path_text,
            raw=shown_raw,
            marker=marker.strip() or None,
            url=path_text,
            editable=editable,
            location=location,
        )
    long_number = _LONG_NUMBER.search(text)
    if long_number:
        diags.append(
            make(
                "GN109",
                f"requirement {_excerpt(shown_raw)!r} holds a number of {len(long_number.group())} digits "
                f"(the limit is {MAX_VERSION_DIGITS}); not read",
                subject=_excerpt(shown_raw),
                location=location,
            )
        )
        return None
    req = _requirement(text)
    if isinstance(req, str):
        reason = req
        diags.append(
            make(
                "SP121",
                f"invalid requirement {_excerpt(shown_raw)!r}: {reason}",
                subject=_excerpt(shown_raw),
                location=location,
                hint="pip requirements look like `name`, `name==1.2`, `name[extra]>=1; python_version<'3.12'`",
            )
        )
        return None
    masked = redact_url(req.url) if req.url else None
    requirement = str(req)
    if req.url:
        requirement = requirement.replace(req.url, masked or "")
    return PipRequirement(
        name=str(canonicalize_name(req.name)),
        requirement=requirement,
        raw=shown_raw,
        specifier=str(req.specifier),
        extras=tuple(sorted(req.extras)),
        marker=str(req.marker) if req.marker else None,
        url=masked,
        editable=editable,
        location=location,
    )


@functools.lru_cache(maxsize=8192)
def _requirement(text: str) -> Requirement | str:
    """packaging's parse of a PEP 508 string (cached), or the first line of its error."""
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        return str(exc).splitlines()[0]


def _is_path(text: str) -> bool:
    head = text.split(";")[0].strip()
    if head in (".", ".."):
        return True
    if head.startswith(("./", "../", "/", "~")):
        return True
    if "/" in head and not re.search(r"[<>=!~@\[]", head):
        return True
    return head.endswith(_ARCHIVE) and not re.search(r"[<>=!~@]", head)


def parse_requirements_file(path: str | Path, *, env: Mapping[str, str] | None = None) -> ParsedRequirements:
    """Parse a requirements file with its includes. Raises `InputError` when the file cannot be read."""
    return RequirementsParser(env=env).parse_file(Path(path))
