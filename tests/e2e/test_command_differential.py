"""Differential test: a command line run as a jobclusters task ends as `/bin/sh -c` says it ends.

Ground truth is `/bin/sh -c COMMAND` run directly in a copy of the job's folder: its exit status as the
shell's `$?` reports it (128+N for a signal) and its stdout. Each command line is a task of one job run on
the embedded default (real devhost, Azurite, local Batch); the task's state (SUCCESS exactly when the
status is 0), its exit code in `run --json`, and its uploaded stdout must agree. The hand-written cases
cover operators, pipes, quotes, globs, variables, redirections, substitutions, scripts beside the job
file, exit codes and signals; a hypothesis-generated batch composes more from a small grammar.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import AppHost, batch_job
from tests.e2e.test_cli import cli

pytestmark = pytest.mark.integration

JOB_FILES = {
    "fail.py": "raise SystemExit(3)\n",
    "args.py": "import sys\nprint('|'.join(sys.argv[1:]))\n",
    "hello.sh": "echo hello from $(basename \"$0\")\nexit 0\n",
    "exits.sh": 'echo "exiting $1"\nexit "$1"\n',
    "data.txt": "banana\napple\ncherry\n",
    "b.txt": "b\n",
    "scripts/inner.py": "print('inner', __file__.rsplit('/', 1)[-1])\n",
}
EXECUTABLE = ("hello.sh", "exits.sh")

CASES = [
    # operators
    "echo start && python3 fail.py",
    "python3 fail.py || echo recovered",
    "echo a; echo b; exit 4",
    "false; echo after-false",
    "true && false",
    "false || false || echo third",
    "true || echo never; echo always",
    # pipes
    "echo one two | tr a-z A-Z",
    "printf 'x\\ny\\nz\\n' | wc -l",
    "sort data.txt | head -n 2",
    "python3 fail.py | cat",
    # quotes
    "echo 'single && quoted ; not | operators'",
    'echo "double $((1 + 2)) quoted"',
    "echo 'it'\"'\"'s' \"a  b\"",
    "python3 args.py 'a b' c \"d e\"",
    # globs
    "echo *.py",
    "ls *.txt",
    "echo nomatch*.zzz",
    "ls scripts/*.py",
    # environment variables
    "X=42; echo $X",
    "echo ${UNSET_JOBCLUSTERS_DIFF:-fallback}",
    "export Y=7 && sh -c 'echo child $Y'",
    "Z=inline sh -c 'echo $Z'",
    # redirections
    "echo to-file > out.txt && cat out.txt",
    "echo err 1>&2; echo out",
    "echo first > o.txt; echo second >> o.txt; cat o.txt",
    "cat < data.txt | grep an",
    "cat missing.txt 2>/dev/null || echo missing",
    # substitutions
    "echo $(echo nested $(echo deeper))",
    "echo `echo backticks`",
    "echo lines: $(wc -l < data.txt)",
    "exit $(python3 -c 'print(6)')",
    # scripts beside the job file
    "python3 fail.py",
    "sh hello.sh",
    "./hello.sh",
    "./exits.sh 12",
    "cd scripts && python3 inner.py",
    "test -f scripts/inner.py && echo staged",
    # control flow and grouping
    "for i in 1 2 3; do echo $i; done",
    "if [ -f fail.py ]; then echo present; else echo absent; fi",
    "case x in x) echo matched;; esac",
    "( exit 9 )",
    "{ echo grouped; exit 5; }",
    "echo background & wait",
    "read line < data.txt; echo $line",
    "grep -c an data.txt",
    "no-such-command-jobclusters",
    # exit codes 0..255
    *(f"exit {code}" for code in (0, 1, 2, 42, 100, 126, 127, 128, 200, 254, 255)),
    "exit 256",
    # signals
    "kill -TERM $$",
    "kill -KILL $$",
    "python3 -c 'import os, signal; os.kill(os.getpid(), signal.SIGINT)'",
    "sh -c 'kill -HUP $$'; echo after $?",
]


@dataclass(frozen=True)
class Ended:
    state: str
    exit_code: int | None
    stdout: str


def job_folder(root: Path) -> Path:
    folder = root / "job"
    for name, text in JOB_FILES.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for name in EXECUTABLE:
        (folder / name).chmod(0o755)
    return folder


def run_directly(folder: Path, command: str, scratch: Path) -> Ended:
    """`/bin/sh -c` in a fresh copy of the job folder, as the shell reports it."""
    wd = scratch / "wd"
    shutil.rmtree(wd, ignore_errors=True)
    shutil.copytree(folder, wd)
    done = subprocess.run(
        ["/bin/sh", "-c", command],
        cwd=wd,
        env={"PATH": os.environ["PATH"], "LANG": "C.UTF-8"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        check=False,
    )
    code = done.returncode if done.returncode >= 0 else 128 - done.returncode
    return Ended("SUCCESS" if code == 0 else "FAILED", code, done.stdout.decode())


def run_as_tasks(host: AppHost, folder: Path, name: str, commands: list[str]) -> dict[str, Ended]:
    """One job, one independent task per command, run through the CLI; keyed by command."""
    keys = {f"c{i:03d}": command for i, command in enumerate(commands)}
    definition = batch_job(name, keys)
    for task in definition["tasks"]:
        task.pop("depends_on", None)
    job = folder / "job.yaml"
    job.write_text(yaml.safe_dump(definition), encoding="utf-8")
    result = cli(host, "run", str(job), "--json", timeout=600)
    last = json.loads(result.stdout.strip().splitlines()[-1])

    def ended(key: str) -> Ended:
        task = last["tasks"][key]
        logs = host.client.task_logs(last["run_id"], key)["attempts"][-1]["logs"]
        return Ended(task["state"], task["exit_code"], logs.get("stdout.txt", ""))

    with ThreadPoolExecutor(max_workers=8) as pool:
        return dict(zip(keys.values(), pool.map(ended, keys), strict=True))


def assert_agree(host: AppHost, root: Path, name: str, commands: list[str]) -> None:
    folder = job_folder(root)
    (folder / "job.yaml").write_text("placeholder\n")  # the directory copy holds the job file too
    as_tasks = run_as_tasks(host, folder, name, commands)
    disagreements = []
    for command in commands:
        expected = run_directly(folder, command, root)
        if as_tasks[command] != expected:
            disagreements.append(f"{command!r}: sh {expected} | task {as_tasks[command]}")
    assert disagreements == []


def test_hand_written_command_lines_end_as_sh_says(app_host: AppHost, tmp_path: Path) -> None:
    assert len(CASES) == len(set(CASES))
    assert_agree(app_host, tmp_path, "diff-cases", CASES)


ATOMS = st.sampled_from(
    [
        "true",
        "false",
        "echo hi",
        "echo 'a;b'",
        'echo "$((2 * 21))"',
        "python3 fail.py",
        "sh hello.sh",
        "./exits.sh 3",
        "printf 'q\\np\\n' | sort",
        "cat data.txt | head -n 1",
        "echo *.txt",
        "echo $(echo sub)",
        "V=v; echo $V",
        "echo x > f.txt && cat f.txt",
    ]
) | st.integers(min_value=0, max_value=255).map(lambda n: f"( exit {n} )")


def _compose(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    joined = st.tuples(inner, st.sampled_from([" && ", " || ", "; ", " | "]), inner).map("".join)
    return st.one_of(
        joined,
        joined,
        inner.map(lambda c: f"( {c} )"),
        inner.map(lambda c: f"{{ {c}; }}"),
    )


COMMANDS = st.recursive(ATOMS, _compose, max_leaves=4)


@settings(
    max_examples=2,
    derandomize=True,
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(commands=st.lists(COMMANDS, min_size=16, max_size=16, unique=True))
def test_generated_command_lines_end_as_sh_says(
    app_host: AppHost, tmp_path_factory: pytest.TempPathFactory, commands: list[str]
) -> None:
    assert_agree(app_host, tmp_path_factory.mktemp("generated"), "diff-generated", commands)
