"""Dockerfile / Containerfile as a spec, read statically (nothing is built or run).

The final stage is the image that runs: its `FROM` (followed through earlier stages) gives the image facts, and
the `pip install`, `uv pip install` and `conda|mamba|micromamba install|create` commands of its `RUN` lines (and
of the stages it is built `FROM`) give the packages, with `-r` files from the build context, `--index-url` /
`--extra-index-url`, and `ARG`/`ENV` substitution. Whatever cannot be read without running it is SP300 info.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from envresolve.diagnostics import Diagnostic, Location, make
from envresolve.node.images import image_facts
from envresolve.specs.conda import parse_conda_dependency
from envresolve.specs.environment_yml import python_from_conda
from envresolve.specs.model import Channel, CondaDependency, EnvSpec, IndexUrl, PipRequirement
from envresolve.specs.requirements import ParsedRequirements, RequirementsParser

__all__ = ["is_containerfile_name", "load_containerfile"]

_VAR = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<mod>:?[-+][^}]*)?\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)
_SHELL_LOGIC = re.compile(r"(?:^|[\s;&|(])(?:if|then|case|for|while|until)\s|\$\(|`|<<")
_PIP = re.compile(r"^(?:.*/)?pip(?:3(?:\.[0-9]+)?)?$")
_PYTHON = re.compile(r"^(?:.*/)?python(?:3(?:\.[0-9]+)?)?$")
_CONDA = re.compile(r"^(?:.*/)?(?:conda|mamba|micromamba)$")
_HEREDOC = re.compile(r"<<-?[\"']?([A-Za-z_][A-Za-z0-9_]*)[\"']?")
_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_MAX_INSTRUCTIONS = 10_000
_LOCATE_WINDOW = 64  # lines searched ahead for a word's position

# pip / uv pip install options: name -> takes a value
_PIP_OPTS: dict[str, bool] = {
    "-r": True,
    "--requirement": True,
    "-c": True,
    "--constraint": True,
    "-i": True,
    "--index-url": True,
    "--extra-index-url": True,
    "-f": True,
    "--find-links": True,
    "-e": True,
    "--editable": True,
    "--no-index": False,
    "-U": False,
    "--upgrade": False,
    "--no-cache-dir": False,
    "--no-cache": False,
    "--pre": False,
    "--user": False,
    "--no-deps": False,
    "--break-system-packages": False,
    "-q": False,
    "--quiet": False,
    "-v": False,
    "--verbose": False,
    "--system": False,
    "--python": True,
    "-p": True,
    "--target": True,
    "-t": True,
    "--prefix": True,
    "--root": True,
    "--index-strategy": True,
    "--root-user-action": True,
    "--trusted-host": True,
    "--timeout": True,
    "--default-timeout": True,
    "--retries": True,
    "--only-binary": True,
    "--no-binary": True,
    "--progress-bar": True,
    "--prefer-binary": False,
    "--force-reinstall": False,
    "--ignore-installed": False,
    "-I": False,
    "--no-build-isolation": False,
    "--compile": False,
    "--no-compile": False,
    "--disable-pip-version-check": False,
    "--upgrade-strategy": True,
    "--config-settings": True,
    "-C": True,
    "--no-warn-script-location": False,
    "--require-hashes": False,
    "--link-mode": True,
    "--torch-backend": True,
    "--exists-action": True,
}
_CONDA_OPTS: dict[str, bool] = {
    "-y": False, "--yes": False, "-n": True, "--name": True, "-p": True, "--prefix": True, "-c": True,
    "--channel": True, "-q": False, "--quiet": False, "--override-channels": False,
    "--strict-channel-priority": False, "--freeze-installed": False, "--no-update-deps": False,
    "--root-prefix": True, "-r": True, "--no-deps": False, "--update-all": False, "--all": False,
    "--copy": False, "--no-pin": False, "--force-reinstall": False, "-v": False, "--verbose": False,
}  # fmt: skip


@dataclass
class _Stage:
    ref: str
    name: str | None
    location: Location
    parent: _Stage | None = None
    pip: list[PipRequirement] = field(default_factory=list)
    indexes: list[IndexUrl] = field(default_factory=list)
    conda: list[CondaDependency] = field(default_factory=list)
    channels: list[Channel] = field(default_factory=list)
    python: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    #: image path -> build-context path, from `COPY`/`ADD` without `--from`
    copies: dict[str, str] = field(default_factory=dict)


def is_containerfile_name(name: str) -> bool:
    """`Dockerfile`, `Containerfile`, `Dockerfile.gpu`, `gpu.Dockerfile`, `train.containerfile` (case-insensitive)."""
    low = name.lower()
    return (
        low in ("dockerfile", "containerfile")
        or low.startswith(("dockerfile.", "containerfile."))
        or low.endswith((".dockerfile", ".containerfile"))
    )


def _instructions(text: str) -> list[tuple[int, int, str]]:
    """(first line, last line, text) of each instruction: continuations joined, comment lines dropped, heredoc
    bodies (`RUN <<EOF` ... `EOF`) kept inside their instruction."""
    out: list[tuple[int, int, str]] = []
    buf: list[str] = []
    start = 0
    lines = text.splitlines()
    number = 0
    while number < len(lines):
        line = lines[number]
        number += 1
        stripped = line.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):
            continue  # a comment inside a continued instruction is removed, as BuildKit does
        if not buf:
            start = number
        if line.rstrip().endswith("\\"):
            buf.append(line.rstrip()[:-1])
            continue
        buf.append(line)
        body = " ".join(b.strip() for b in buf)
        heredocs = _HEREDOC.findall(body) if body.split(" ", 1)[0].upper() in ("RUN", "COPY", "ADD") else []
        parts = [body]
        for word in heredocs:
            while number < len(lines) and lines[number].strip() != word:
                parts.append(lines[number])
                number += 1
            number += 1  # the terminator
        out.append((start, min(number, len(lines)), "\n".join(parts)))
        buf = []
    if buf:
        out.append((start, start + len(buf) - 1, " ".join(b.strip() for b in buf)))
    return out


class _Reader:
    def __init__(self, path: Path, text: str, env: Mapping[str, str] | None) -> None:
        self.path = path
        self.file = str(path)
        self.lines = text.splitlines()
        self.diags: list[Diagnostic] = []
        self.req = RequirementsParser(env=env)
        self.req.root = path.parent.resolve()  # includes stay inside the build context (SP160)
        self.global_args: dict[str, str] = {}
        self.stages: list[_Stage] = []
        self._cursor: tuple[int, int] = (0, 0)  # (line, column) after the last word located

    # -- positions ------------------------------------------------------------------------------------------
    def _locate(self, first: int, last: int, token: str) -> Location:
        """Where a word of an instruction is written, searching forward from the previous word (words come in
        order; the window is bounded so a huge instruction stays linear). A word changed by `${VAR}` substitution
        is found by an unchanged prefix."""
        line0, col0 = self._cursor if self._cursor[0] >= first else (first, 0)
        end = min(last, len(self.lines), line0 + _LOCATE_WINDOW)
        for probe in dict.fromkeys((token, token[: max(3, len(token) // 2)], token[:3])):
            for n in range(line0, end + 1):
                col = self.lines[n - 1].find(probe, col0 if n == line0 else 0)
                if col >= 0:
                    self._cursor = (n, col + len(probe))
                    return Location(file=self.file, line=n, column=col + 1)
        return Location(file=self.file, line=first, column=1)

    def _info(self, message: str, location: Location, subject: str | None = None) -> None:
        self.diags.append(make("SP300", message, subject=subject, location=location))

    # -- substitution ---------------------------------------------------------------------------------------
    def _subst(self, text: str, scope: Mapping[str, str], loc: Location, *, report: bool = True) -> str | None:
        """`$VAR`/`${VAR}`/`${VAR:-x}` from ARG/ENV; None (and SP300) when a variable has no value."""
        missing: list[str] = []

        def sub(m: re.Match[str]) -> str:
            name = m["braced"] or m["plain"]
            mod = m["mod"] or ""
            value = scope.get(name)
            if mod.lstrip(":").startswith("-"):
                return value if value else mod.lstrip(":")[1:]
            if mod.lstrip(":").startswith("+"):
                return mod.lstrip(":")[1:] if value else ""
            if value is None:
                missing.append(name)
                return m.group(0)
            return value

        out = _VAR.sub(sub, text)
        if missing and report:
            self._info(
                f"${{{missing[0]}}} has no ARG/ENV value here; the text that uses it is not read",
                loc,
                subject=missing[0],
            )
            return None
        return out

    # -- instructions ---------------------------------------------------------------------------------------
    def read(self, text: str) -> None:
        instructions = _instructions(text)
        if len(instructions) > _MAX_INSTRUCTIONS:
            instructions = instructions[:_MAX_INSTRUCTIONS]
            self._info(f"only the first {_MAX_INSTRUCTIONS} instructions are read", Location(file=self.file, line=1))
        for first, last, body in instructions:
            self._cursor = (first, 0)
            keyword, _, rest = body.partition(" ")
            keyword = keyword.upper()
            loc = Location(file=self.file, line=first, column=1)
            if keyword == "FROM":
                self._from(rest.strip(), first, last)
            elif keyword == "ARG":
                self._arg(rest.strip(), loc)
            elif not self.stages:
                if keyword not in ("", "#"):
                    self.diags.append(make("SP301", f"{keyword} before the first FROM", subject=keyword, location=loc))
            elif keyword == "ENV":
                self._env(rest.strip(), loc)
            elif keyword == "RUN":
                self._run(rest.strip(), first, last)
            elif keyword == "WORKDIR":
                self._workdir(rest.strip(), loc)
            elif keyword in ("COPY", "ADD"):
                self._copy(rest.strip(), loc)

    def _scope(self) -> dict[str, str]:
        if not self.stages:
            return dict(self.global_args)
        return dict(self.stages[-1].env)

    def _arg(self, rest: str, loc: Location) -> None:
        scope = self.stages[-1].env if self.stages else self.global_args
        for item in rest.split():
            name, eq, value = item.partition("=")
            if eq:
                got = self._subst(value.strip("\"'"), self._scope(), loc, report=False)
                if got is None:
                    scope.pop(name, None)
                else:
                    scope[name] = got
            elif self.stages and name in self.global_args:
                scope[name] = self.global_args[name]  # `ARG NAME` in a stage re-imports the global default

    def _env(self, rest: str, loc: Location) -> None:
        stage = self.stages[-1]
        try:
            tokens = shlex.split(rest)
        except ValueError:
            self._info("ENV line cannot be split", loc)
            return
        pairs: list[tuple[str, str]] = []
        if tokens and "=" not in tokens[0]:
            pairs = [(tokens[0], " ".join(tokens[1:]))]
        else:
            pairs = [(t.partition("=")[0], t.partition("=")[2]) for t in tokens if "=" in t]
        for name, value in pairs:
            got = self._subst(value, stage.env, loc, report=False)
            if got is not None:
                stage.env[name] = got
                if name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "UV_INDEX_URL", "UV_EXTRA_INDEX_URL"):
                    opt = "--index-url" if name.endswith("_INDEX_URL") and "EXTRA" not in name else "--extra-index-url"
                    for url in got.split():
                        self._pip_line(f"{opt} {url}", self._locate(loc.line or 1, loc.line or 1, name), stage)

    def _workdir(self, rest: str, loc: Location) -> None:
        stage = self.stages[-1]
        got = self._subst(rest.strip("\"'"), stage.env, loc, report=False)
        if got:
            stage.workdir = posixpath.normpath(posixpath.join(stage.workdir, got))

    def _copy(self, rest: str, loc: Location) -> None:
        stage = self.stages[-1]
        words = [w for w in rest.split() if not w.startswith("--")]
        source_stage = next((w.split("=", 1)[1] for w in rest.split() if w.startswith("--from=")), None)
        if source_stage is not None:
            if any(s.name == source_stage.lower() for s in self.stages[:-1]):
                self._info(
                    f"COPY --from={source_stage} brings files built in stage {source_stage}; packages installed "
                    "there are not judged as this stage's",
                    loc,
                    subject=source_stage,
                )
            return
        if len(words) < 2 or rest.startswith("["):
            return
        got = [self._subst(w, stage.env, loc, report=False) for w in words]
        if any(g is None for g in got):
            return
        *sources, dest = [g for g in got if g is not None]
        dest = posixpath.join(stage.workdir, dest)
        for src in sources:
            if any(c in src for c in "*?["):
                continue
            if len(sources) == 1 and not dest.endswith("/"):
                stage.copies[posixpath.normpath(dest)] = src
            stage.copies[posixpath.normpath(posixpath.join(dest, posixpath.basename(src.rstrip("/"))))] = src
            if src.rstrip("/") in (".", ""):
                stage.copies[posixpath.normpath(dest) + "/"] = "."

    def _context_file(self, target: str, stage: _Stage) -> Path | None:
        """The build-context file an in-image path came from (`COPY`), or a context-relative path; never a file
        outside the directory of the Dockerfile."""
        image_path = posixpath.normpath(posixpath.join(stage.workdir, target))
        candidates: list[str] = []
        for s in self._chain(stage):
            if image_path in s.copies:
                candidates.append(s.copies[image_path])
            for dest, src in s.copies.items():
                if dest.endswith("/") and image_path.startswith(dest):
                    candidates.append(posixpath.join(src, image_path[len(dest) :]))
        if not target.startswith("/"):
            candidates.append(target)
        context = self.path.parent.resolve()
        for cand in candidates:
            path = (context / cand.lstrip("/")).resolve()
            if path.is_relative_to(context) and path.is_file():
                return self.path.parent / path.relative_to(context)
        return None

    def _chain(self, stage: _Stage) -> list[_Stage]:
        out: list[_Stage] = []
        cur: _Stage | None = stage
        while cur is not None and len(out) <= len(self.stages):
            out.append(cur)
            cur = cur.parent
        return out

    def _from(self, rest: str, first: int, last: int) -> None:
        loc = Location(file=self.file, line=first, column=1)
        words = [w for w in rest.split() if not w.startswith("--")]
        if not words:
            self.diags.append(make("SP301", "FROM names no image", subject="FROM", location=loc))
            return
        name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
        ref = self._subst(words[0], self.global_args, self._locate(first, last, words[0]))
        parent = next((s for s in self.stages if ref is not None and s.name and s.name == ref.lower()), None)
        stage = _Stage(
            ref=ref if ref is not None else words[0],
            name=name.lower() if name else None,
            location=self._locate(first, last, words[0]),
            parent=parent,
        )
        if ref is None:
            stage.ref = ""
        if parent is not None:
            stage.env = dict(parent.env)
            stage.workdir = parent.workdir
        self.stages.append(stage)

    def _run(self, rest: str, first: int, last: int) -> None:
        stage = self.stages[-1]
        loc = Location(file=self.file, line=first, column=1)
        while rest.startswith("--"):  # RUN --mount=... --network=...
            _flag, _, rest = rest.partition(" ")
            rest = rest.lstrip()
        if rest.startswith("["):
            try:
                argv = json.loads(rest)
            except ValueError:
                argv = None
            if isinstance(argv, list) and all(isinstance(a, str) for a in argv):
                self._command(argv, first, last, stage)
                return
        if not re.search(r"\b(?:pip|pip3|uv|conda|mamba|micromamba)\b", rest):
            return
        if _SHELL_LOGIC.search(rest):
            self._info("a RUN line with shell logic installs packages; lint does not run it", loc)
            return
        text = self._subst(rest, stage.env, loc)
        if text is None:
            return
        try:
            lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|")
            lexer.whitespace_split = True
            tokens = list(lexer)
        except ValueError as exc:
            self._info(f"the RUN line cannot be split into words: {exc}", loc)
            return
        command: list[str] = []
        for tok in [*tokens, ";"]:
            if tok and set(tok) <= set(";&|"):
                if command:
                    self._command(command, first, last, stage)
                command = []
            else:
                command.append(tok)

    def _command(self, argv: list[str], first: int, last: int, stage: _Stage) -> None:
        while argv and _ASSIGN.match(argv[0]):
            argv = argv[1:]
        if argv and argv[0] in ("sudo", "exec", "time"):
            argv = argv[1:]
        if len(argv) >= 3 and _PYTHON.match(argv[0]) and argv[1] == "-m" and argv[2] in ("pip", "uv"):
            argv = argv[2:]
        if len(argv) >= 2 and argv[0].endswith("uv") and argv[1] == "pip":
            argv = ["pip", *argv[2:]]
        if not argv:
            return
        head = argv[0]
        if _PIP.match(head) and len(argv) >= 2 and argv[1] == "install":
            self._pip(argv[2:], first, last, stage)
        elif _CONDA.match(head):
            sub = [a for a in argv[1:] if not a.startswith("-")][:1]
            if sub and sub[0] in ("install", "create"):
                self._conda(argv[argv.index(sub[0]) + 1 :], first, last, stage)

    def _pip_line(self, line: str, loc: Location, stage: _Stage) -> None:
        res = self.req.parse_line(line, loc, base_dir=self.path.parent, file=self.file)
        local = [r for r in res.pip if r.url is not None and "://" not in r.url]
        if local:  # a path inside the image (a clone, a COPY): not something lint can read from the build context
            res.pip = [r for r in res.pip if r not in local]
            res.diagnostics = [d for d in res.diagnostics if d.code != "SP124"]
            for r in local:
                self._info(f"{r.raw!r} is a path inside the image; lint does not read it", loc, subject=r.raw)
        self._take(res, stage)

    def _take(self, res: ParsedRequirements, stage: _Stage) -> None:
        stage.pip += res.pip
        stage.indexes += res.indexes
        self.diags += res.diagnostics

    def _pip(self, args: list[str], first: int, last: int, stage: _Stage) -> None:
        i = 0
        while i < len(args):
            tok = args[i]
            loc = self._locate(first, last, tok)
            opt, eq, value = tok.partition("=") if tok.startswith("--") else (tok, "", "")
            if not opt.startswith("-"):
                self._pip_line(tok, loc, stage)
                i += 1
                continue
            if len(opt) > 2 and not opt.startswith("--") and opt[:2] in _PIP_OPTS:
                opt, value, eq = opt[:2], opt[2:], "="
            takes = _PIP_OPTS.get(opt)
            if takes is None:
                self._info(f"pip option {opt} is not known to lint; the rest of the command is not read", loc, opt)
                return
            if takes and not eq:
                if i + 1 >= len(args):
                    return
                value = args[i + 1]
                i += 2
            else:
                i += 1
            if opt in ("-r", "--requirement", "-c", "--constraint"):
                self._requirements_file(value, opt in ("-c", "--constraint"), self._locate(first, last, value), stage)
            elif opt in ("-i", "--index-url", "--extra-index-url", "-f", "--find-links"):
                self._pip_line(f"{opt} {value}", self._locate(first, last, value), stage)
            elif opt in ("-e", "--editable"):
                self._pip_line(f"-e {value}", self._locate(first, last, value), stage)

    def _requirements_file(self, target: str, constraint: bool, loc: Location, stage: _Stage) -> None:
        path = None if "://" in target else self._context_file(target, stage)
        if path is None:
            self.diags.append(
                make(
                    "SP302",
                    f"{'constraints' if constraint else 'requirements'} file {target!r} is not in the build context "
                    f"next to the Dockerfile ({self.path.parent}); its packages are unknown",
                    subject=target,
                    location=loc,
                )
            )
            return
        self._take(self.req.parse_file(path, constraint=constraint), stage)

    def _conda(self, args: list[str], first: int, last: int, stage: _Stage) -> None:
        i = 0
        while i < len(args):
            tok = args[i]
            loc = self._locate(first, last, tok)
            if tok.startswith("-"):
                opt, eq, value = tok.partition("=")
                takes = _CONDA_OPTS.get(opt)
                if takes is None:
                    self._info(
                        f"conda option {opt} is not known to lint; the rest of the command is not read", loc, opt
                    )
                    return
                if takes and not eq:
                    value = args[i + 1] if i + 1 < len(args) else ""
                    i += 2
                else:
                    i += 1
                if opt in ("-c", "--channel") and value:
                    stage.channels.append(Channel(name=value, location=self._locate(first, last, value)))
                continue
            i += 1
            dep, diags = parse_conda_dependency(tok, loc)
            self.diags += diags
            if dep is None:
                continue
            if dep.name == "python":
                stage.python = python_from_conda([dep])
            stage.conda.append(dep)

    # -- result ---------------------------------------------------------------------------------------------
    def spec(self) -> EnvSpec | None:
        if not self.stages:
            self.diags.append(
                make("SP301", "no FROM instruction: this is not a buildable Dockerfile", subject=self.file,
                     location=Location(file=self.file, line=1, column=1))
            )  # fmt: skip
            return None
        final = self.stages[-1]
        chain: list[_Stage] = []
        stage: _Stage | None = final
        while stage is not None and len(chain) < len(self.stages):
            chain.insert(0, stage)
            stage = stage.parent
        base = chain[0]
        image = None
        if base.ref:
            image, image_diags = image_facts(base.ref)
            self.diags += [d.model_copy(update={"location": base.location}) for d in image_diags]
        conda = [d for s in chain for d in s.conda]
        if conda and not any(s.channels for s in chain):
            self._info(
                "conda installs without -c: the channels come from the image's .condarc, unknown to lint; "
                "lint and lock assume conda-forge",
                conda[0].location or final.location,
                subject="channels",
            )
        python = next((s.python for s in reversed(chain) if s.python), None)
        if python is None and image is not None and image.repository == "python":
            m = re.match(r"^([0-9]+\.[0-9]+)", image.tag)
            python = m.group(1) if m else None
        return EnvSpec(
            source=self.file,
            format="dockerfile",
            origin=f"final stage FROM {final.ref or '?'}" + (f" AS {final.name}" if final.name else ""),
            channels=tuple(c for s in chain for c in s.channels),
            conda=tuple(d for s in chain for d in s.conda),
            pip=tuple(r for s in chain for r in s.pip),
            indexes=tuple(x for s in chain for x in s.indexes),
            python=python,
            image=image,
            location=final.location,
        )


def load_containerfile(
    path: Path, text: str, *, env: Mapping[str, str] | None = None
) -> tuple[list[EnvSpec], list[Diagnostic]]:
    """The environment of the final stage of a Dockerfile/Containerfile, and findings made while reading it.

    `env` expands `${VAR}` inside `-r` requirements files (pip's rule); build ARGs come from the file's own
    defaults only.
    """
    reader = _Reader(path, text, env)
    reader.read(text)
    spec = reader.spec()
    if spec is None:
        return [], reader.diags
    return [spec.model_copy(update={"diagnostics": tuple(reader.diags)})], []
