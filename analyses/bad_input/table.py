"""The bad-input table of docs/bad_input.md, measured (issue 14).

``python analyses/bad_input/table.py`` runs every case of :data:`CASES` through
``brainbias fit`` (each in a fresh process, so that a native abort is measured rather than
fatal), records the exit code, the error class, the first words of the message and what is left
in the output folder, writes ``analyses/bad_input/measured.json`` and rewrites the table between
the markers of ``docs/bad_input.md``.

``--before TREE`` also measures another copy of the package (e.g. the commit before this work,
``git archive HEAD brainbias | tar -x -C /tmp/before``) for a "before" column.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DOC = ROOT / "docs" / "bad_input.md"
BEGIN, END = "<!-- table:begin (analyses/bad_input/table.py) -->", "<!-- table:end -->"

#: a ridge-readout run: no gradient iterations, so the cases that run take seconds
TINY = """seed = 2
[network]
n_units = 16
tau = 0.1
[training]
mode = "readout"
washout = 10
[evaluation]
washout = 10
horizon = 20
[[targets]]
kind = "stuart_landau"
name = "hopf"
n_steps = 400
dt = 0.02
"""
#: a few gradient iterations with a checkpoint (for the resume cases)
TRAINED = TINY.replace('mode = "readout"', "n_iterations = 4\nchunk_size = 2\nbatch_size = 2\n"
                       "window = 20\ncheckpoint_every = 1")


def _sub(old, new, base=TINY):
    assert old in base, old
    return base.replace(old, new)


# (group, what was tried, how): how is a config text, or a dict with "config" (text, bytes or a
# special path), "args" (extra CLI arguments), "out" ("file" / "exists"), "simulate" (a name of
# _DRIVER's patches), "checkpoint" (how to make the checkpoint of a --resume case)
CASES = [
    ("config file", "a folder passed as the config", {"config": "DIR"}),
    ("config file", "a config file that does not exist", {"config": "MISSING"}),
    ("config file", "an unreadable config (permission denied; simulated: root reads anything)",
     {"config": TINY, "simulate": "unreadable"}),
    ("config file", "random bytes", {"config": bytes(range(256)) * 4}),
    ("config file", "a results file (run.nc) passed as the config", {"config": "NETCDF"}),
    ("config file", "text with NUL bytes", {"config": b"seed = 1\x00\n"}),
    ("config file", "an empty file", {"config": ""}),
    ("config file", "only comments", {"config": "# nothing here\n\n"}),
    ("config file", "not TOML (`seed = = 1`)", {"config": "seed = = 1\n"}),
    ("config file", "an unterminated string", {"config": _sub('kind = "stuart_landau"',
                                                              'kind = "stuart_landau')}),
    ("config file", "a key given twice", {"config": _sub("seed = 2", "seed = 2\nseed = 3")}),
    ("config file", "an 11 MiB file", {"config": "HUGE"}),
    ("config file", "/dev/zero as the config", {"config": "/dev/zero"}),
    ("keys", "`[trainig]` (a misspelt table)", _sub("[training]", "[trainig]")),
    ("keys", "`gain` under [network]", _sub("n_units = 16", "n_units = 16\ngain = 0.9")),
    ("keys", "`iterations` at the top level", _sub("seed = 2", "seed = 2\niterations = 10")),
    ("keys", "`n_steps` under [training]", _sub("washout = 10\n[evaluation]",
                                                "washout = 10\nn_steps = 5\n[evaluation]")),
    ("keys", "`window` under [evaluation]", _sub("horizon = 20", "horizon = 20\nwindow = 5")),
    ("keys", "`n_units` under [network.connectivity]",
     _sub("[training]", "[network.connectivity]\nn_units = 4\n[training]")),
    ("keys", "`n_step` in [[targets]]", _sub("n_steps = 400", "n_step = 400")),
    ("keys", 'target kind "lorenzz"', _sub('"stuart_landau"', '"lorenzz"')),
    ("types", "target kind = [1, 2]", _sub('"stuart_landau"', "[1, 2]")),
    ("types", 'learning_rate = "fast"', _sub("washout = 10\n[eval", 'washout = 10\n'
                                             'learning_rate = "fast"\n[eval')),
    ("types", "n_iterations = 1.5", _sub("washout = 10\n[eval", "washout = 10\n"
                                         "n_iterations = 1.5\n[eval")),
    ("types", "n_units = true", _sub("n_units = 16", "n_units = true")),
    ("types", "network = 5 (a value, not a table)", _sub("[network]\nn_units = 16\ntau = 0.1\n",
                                                         "network = 5\n")),
    ("types", "connectivity = 1.2", _sub("tau = 0.1", "tau = 0.1\nconnectivity = 1.2")),
    ("ranges", "tau = 0", _sub("tau = 0.1", "tau = 0")),
    ("ranges", "tau = -0.1", _sub("tau = 0.1", "tau = -0.1")),
    ("ranges", "n_units = 0", _sub("n_units = 16", "n_units = 0")),
    ("ranges", "test_fraction = 1.0", _sub("washout = 10\n[eval", "washout = 10\n"
                                           "test_fraction = 1.0\n[eval")),
    ("ranges", "seed = -1", _sub("seed = 2", "seed = -1")),
    ("ranges", "ridge = nan", _sub("washout = 10\n[eval", "washout = 10\nridge = nan\n[eval")),
    ("ranges", "connectivity gain = inf",
     _sub("[training]", "[network.connectivity]\ngain = inf\n[training]")),
    ("ranges", "dt = 0.2 > tau = 0.1", _sub("dt = 0.02", "dt = 0.2")),
    ("ranges", 'mode = "biases"', _sub('mode = "readout"', 'mode = "biases"')),
    ("ranges", "evaluation washout longer than the held-out part",
     _sub("washout = 10\nhorizon", "washout = 1000\nhorizon")),
    ("ranges", "transient = 1e300 (would need 5e301 steps)",
     _sub("dt = 0.02", "dt = 0.02\ntransient = 1e300")),
    ("ranges", "learning_rate = 1e30 (in range: the fit is useless, its numbers finite)",
     _sub("checkpoint_every = 1", "checkpoint_every = 1\nlearning_rate = 1e30", TRAINED)),
    ("defaults", "no [evaluation] table", _sub("[evaluation]\nwashout = 10\nhorizon = 20\n", "",
                                               _sub("n_steps = 400", "n_steps = 1000"))),
    ("defaults", "no [[targets]] and no [recording]", TINY.split("[[targets]]")[0]),
    ("memory", "n_units = 10**7", _sub("n_units = 16", "n_units = 10000000")),
    ("memory", "n_units = 10**5", _sub("n_units = 16", "n_units = 100000")),
    ("memory", "target n_steps = 10**10", _sub("n_steps = 400", "n_steps = 10000000000")),
    ("output", "--out under a file", {"config": TINY, "out": "file"}),
    ("output", "--out not writable (simulated: root writes anywhere)",
     {"config": TINY, "simulate": "read_only"}),
    ("output", "--out on a full disk (simulated: 1000 B free)",
     {"config": TINY, "simulate": "disk_full"}),
    ("output", "--out holds a run.nc (no --force)", {"config": TINY, "out": "exists"}),
    ("resume", "--resume without a checkpoint", {"config": TRAINED, "args": ["--resume"]}),
    ("resume", "--resume from a truncated checkpoint",
     {"config": TRAINED, "args": ["--resume"], "checkpoint": "truncate"}),
    ("resume", "--resume from a checkpoint with one flipped bit",
     {"config": TRAINED, "args": ["--resume"], "checkpoint": "flip"}),
    ("resume", "--resume from the checkpoint of another training config",
     {"config": TRAINED, "args": ["--resume"], "checkpoint": "other_config"}),
    ("resume", "--resume from the checkpoint of another seed",
     {"config": TRAINED, "args": ["--resume"], "checkpoint": "other_seed"}),
    ("arguments", '--tau fast', {"config": TINY, "args": ["--tau", "fast"]}),
    ("arguments", "--model ltcc", {"config": TINY, "args": ["--model", "ltcc"]}),
]

#: runs one case in a fresh interpreter: patches for the simulated cases, the error class
#: from brainbias.cli's reporters (where they exist), the exit code or the signal
_DRIVER = r"""
import errno, json, os, resource, shutil, sys
from pathlib import Path
# a runaway case (the old code reading /dev/zero) must not take the shared machine
resource.setrlimit(resource.RLIMIT_AS, (10 * 2**30, resource.RLIM_INFINITY))
case, argv = json.loads(sys.argv[1]), sys.argv[2:]
sim, info = case.get("simulate"), {"class": None}
if sim == "unreadable":
    real_open, real_read = open, Path.read_bytes
    def denied(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied", argv[1])
    def guarded_open(file, *a, **k):
        return denied() if str(file) == argv[1] else real_open(file, *a, **k)
    import builtins
    builtins.open = guarded_open
    Path.read_bytes = lambda self: denied() if str(self) == argv[1] else real_read(self)
if sim == "read_only":  # the case's folder and everything in it
    real_access, work = os.access, os.path.dirname(os.path.dirname(argv[3]))
    os.access = lambda p, m: False if str(p).startswith(work) else real_access(p, m)
if sim == "disk_full":
    class Usage: total, used, free = 10**12, 10**12 - 1000, 1000
    shutil.disk_usage = lambda p: Usage
import brainbias, brainbias.cli as cli
for name in ("_report", "_internal_error"):
    if hasattr(cli, name):
        real = getattr(cli, name)
        def wrap(exc, real=real):
            info["class"] = type(exc).__name__
            return real(exc)
        setattr(cli, name, wrap)
try:
    rc = cli.main(argv)
except SystemExit as exc:
    rc = exc.code
print("DRIVER" + json.dumps({"rc": rc, **info, "package": brainbias.__file__}))
sys.exit(rc if isinstance(rc, int) else 1)
"""


def _make_config(how, work: Path, env) -> Path:
    """The config file of a case, in ``work``."""
    text = how["config"]
    if text == "DIR":
        (work / "configs").mkdir()
        return work / "configs"
    if text == "MISSING":
        return work / "missing.toml"
    if text == "/dev/zero":
        return Path(text)
    path = work / "c.toml"
    if text == "HUGE":
        with open(path, "wb") as fh:
            fh.truncate(11 * 2**20)
    elif text == "NETCDF":
        path = work / "run.nc"
        _run(env, ["fit", _write(work / "t.toml", TINY), "--out", work / "r", "--no-progress",
                   "--no-figures"])
        shutil.copy(work / "r" / "run.nc", path)
    else:
        _write(path, text)
    return path


def _write(path: Path, text) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _run(env, argv, case=None, timeout=600):
    cmd = [sys.executable, "-c", _DRIVER, json.dumps(case or {}), *map(str, argv)]
    # not run from the repository: its brainbias/ would shadow the package on PYTHONPATH
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=tempfile.gettempdir())


def _prepare_out(how, work: Path, config: Path, env) -> Path:
    """The --out folder of a case (and its checkpoint, for the resume cases)."""
    out = work / "out" / "run"
    if how.get("out") == "file":
        (work / "out").mkdir()
        (work / "out" / "blocker").write_text("x")
        return work / "out" / "blocker" / "run"
    if how.get("out") == "exists":
        _run(env, ["fit", config, "--out", out, "--no-progress", "--no-figures"])
    damage = how.get("checkpoint")
    if damage:
        source = config
        if damage == "other_config":
            source = _write(work / "other.toml", _sub("chunk_size = 2", "chunk_size = 2\n"
                                                      "learning_rate = 0.02", TRAINED))
        elif damage == "other_seed":
            source = _write(work / "other.toml", _sub("seed = 2", "seed = 5", TRAINED))
        _run(env, ["fit", source, "--out", out, "--no-progress", "--no-figures"])
        (out / "run.nc").unlink()
        ckpt = out / "checkpoint.npz"
        data = ckpt.read_bytes()
        if damage == "truncate":
            ckpt.write_bytes(data[: len(data) // 2])
        elif damage == "flip":
            i = data.index(b"trainable_0.npy") + 200
            ckpt.write_bytes(data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:])
    return out


def _left(out: Path, before: set) -> str:
    """What the case left under the output folder's parent (beyond what was there)."""
    root = out.parent
    if not root.exists():
        return "nothing"
    now = {str(p.relative_to(root)) for p in root.rglob("*")} - before
    files = sorted(p for p in now if (root / p).is_file())
    if not now:
        return "nothing"
    return ", ".join(files) if files else "empty folder " + ", ".join(sorted(now))


def _outcome(proc) -> dict:
    """Exit code, class and the first line of the message of a finished case."""
    info = {"rc": proc.returncode, "class": None}
    for line in proc.stdout.splitlines():
        if line.startswith("DRIVER"):
            info.update(json.loads(line[len("DRIVER"):]))
    err = proc.stderr
    if "Traceback (most recent call last)" in err:
        last = [ln for ln in err.strip().splitlines() if ln and not ln.startswith(" ")][-1]
        return {**info, "kind": "traceback", "class": last.split(":")[0],
                "message": last}
    if proc.returncode < 0:
        why = {6: " (SIGABRT: a native abort)", 9: " (SIGKILL: e.g. out of memory)"}
        return {**info, "kind": f"killed by signal {-proc.returncode}"
                + why.get(-proc.returncode, ""),
                "message": err.strip().splitlines()[0] if err.strip() else ""}
    lines = [ln for ln in err.splitlines() if ln.startswith(("brainbias:", "usage:"))
             or "error:" in ln]
    message = next((ln for ln in lines if "error" in ln), lines[-1] if lines else "")
    kind = "accepted" if proc.returncode == 0 else "message"
    note = next((ln for ln in err.splitlines() if ln.startswith("brainbias: note:")), "")
    return {**info, "kind": kind, "message": message or note}


def measure(case, package: Path | None = None) -> dict:
    """Run one case (with the package at ``package`` first on the path, if given)."""
    group, what, how = case
    how = {"config": how} if not isinstance(how, dict) else how
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "MPLBACKEND": "Agg"}
    if package is not None:
        env["PYTHONPATH"] = f"{package}{os.pathsep}{env.get('PYTHONPATH', '')}"
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        config = _make_config(how, work, env)
        out = _prepare_out(how, work, config, env)
        before = ({str(p.relative_to(out.parent)) for p in out.parent.rglob("*")}
                  if out.parent.exists() else set())
        argv = ["fit", config, "--out", out, "--no-progress", "--no-figures",
                *how.get("args", [])]
        try:
            proc = _run(env, argv, {"simulate": how.get("simulate")}, timeout=300)
            result = _outcome(proc)
        except subprocess.TimeoutExpired:
            result = {"rc": None, "class": None, "kind": "still running after 300 s",
                      "message": ""}
        result["left"] = _left(out, before)
        result["message"] = result["message"].replace(str(work), "$WORK")
    return {"group": group, "case": what, **result}


def _short(text: str, n: int = 170) -> str:
    text = text.replace("brainbias: error: ", "").replace("|", "\\|").replace("`", "'")
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def markdown(rows: list[dict], before: list[dict] | None = None) -> str:
    """The table of docs/bad_input.md."""
    head = ["what was tried", "exit", "class", "message (shortened)", "left behind"]
    if before:
        head.insert(1, "before this work")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    group = None
    for i, r in enumerate(rows):
        if r["group"] != group:
            group = r["group"]
            lines.append(f"| **{group}** |" + " |" * (len(head) - 1))
        cells = [r["case"], str(r["rc"]), r["class"] or ("—" if r["rc"] == 0 else "argparse"),
                 _short(r["message"]), r["left"]]
        if before:
            b = before[i]
            cells.insert(1, f"{b['kind']}, exit {b['rc']}"
                         + (f" ({b['class']})" if b["kind"] == "traceback" else ""))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--before", type=Path, default=None,
                   help="a copy of the package to measure for the 'before' column")
    p.add_argument("--only", default=None, help="only the cases whose text contains this")
    args = p.parse_args(argv)
    cases = [c for c in CASES if args.only is None or args.only in c[1]]
    rows = []
    for case in cases:
        rows.append(measure(case))
        print(f"{rows[-1]['rc']!s:>4}  {rows[-1]['class'] or '':<18} {case[1]}", flush=True)
    before = [measure(c, args.before) for c in cases] if args.before else None
    measured = HERE / "measured.json"
    measured.write_text(json.dumps({"after": rows, "before": before}, indent=1) + "\n")
    if args.only is None:
        text = DOC.read_text()
        start, stop = text.index(BEGIN) + len(BEGIN), text.index(END)
        DOC.write_text(text[:start] + "\n" + markdown(rows, before) + text[stop:])
        print(f"table: {DOC}; measurements: {measured}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
