"""An output directory that cannot take the study's files is reported before Ray starts.

The full and read-only file systems are small tmpfs mounts inside a private mount
namespace (`unshare --mount`), so they vanish with the process and need no cleanup.
Running as root, file permissions cannot make a directory unwritable; a read-only
mount can.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from .helpers import PYTHON, REPO_ROOT, clean_env, kill_tree, tiny_study, write_study

# The CLI validates the study and checks the output before it imports Ray, which takes
# seconds; a CLI still running after this long has gone on to start Ray.
CHECK_TIMEOUT = 60

# Mount a tmpfs of $1 KiB with mount options $2 on $3, fill it when $4 is "fill",
# then run the remaining arguments in that namespace.
MOUNT_AND_RUN = r"""
set -e
mount -t tmpfs -o "size=${1}k,$2" tmpfs "$3"
if [ "$4" = fill ]; then
    dd if=/dev/zero of="$3/filler" bs=4096 2>/dev/null || true
fi
shift 4
exec "$@"
"""


def can_unshare_mounts() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                           capture_output=True, timeout=30, check=False)
    return probe.returncode == 0


needs_mount_namespace = pytest.mark.skipif(
    not can_unshare_mounts(), reason="needs `unshare --mount` (root and mount namespaces)")


def run_cli(command: list[str]) -> subprocess.CompletedProcess:
    """Run the CLI; fail the test if it is still running after CHECK_TIMEOUT seconds."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=clean_env(), cwd=REPO_ROOT, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=CHECK_TIMEOUT)
    except subprocess.TimeoutExpired:
        kill_tree(process)
        process.communicate()
        pytest.fail(f"the CLI was still running after {CHECK_TIMEOUT} s, so it did not reject "
                    "the output directory before starting Ray")
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def run_cli_on_mount(tmp_path, size_kib: int, options: str, fill: bool):
    """Run the CLI with `--output` on a fresh tmpfs; return the completed process and output."""
    study = write_study(tmp_path, tiny_study("output_check"))
    mount_point = tmp_path / "mnt"
    mount_point.mkdir()
    output = mount_point / "study"
    command = ["unshare", "--mount", "--propagation", "private", "sh", "-c", MOUNT_AND_RUN, "sh",
               str(size_kib), options, str(mount_point), "fill" if fill else "keep",
               PYTHON, "-m", "sema_ray.study", str(study), "--output", str(output)]
    return run_cli(command), output


def assert_rejected_before_ray(completed, output, reason: str) -> None:
    log = completed.stdout + completed.stderr
    assert completed.returncode == 2, log
    errors = [line for line in completed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, log
    assert str(output) in errors[0]
    assert reason in errors[0]
    assert "Ray" not in completed.stdout + "".join(line for line in completed.stderr.splitlines()
                                                   if not line.startswith("error:"))


@needs_mount_namespace
def test_full_disk_rejected_before_ray(tmp_path):
    completed, output = run_cli_on_mount(tmp_path, 64, "rw", fill=True)
    assert_rejected_before_ray(completed, output, "No space left on device")


@needs_mount_namespace
def test_read_only_disk_rejected_before_ray(tmp_path):
    completed, output = run_cli_on_mount(tmp_path, 64, "ro", fill=False)
    assert_rejected_before_ray(completed, output, "Read-only file system")


def test_output_below_file_rejected_before_ray(tmp_path, capsys):
    from sema_ray.study.__main__ import main

    study = write_study(tmp_path, tiny_study("output_check"))
    blocker = tmp_path / "results.txt"
    blocker.write_text("a file where the output directory should go\n", encoding="utf-8")
    output = blocker / "study"
    # In this process: the check runs before `main` imports Ray or starts anything.
    exit_code = main([str(study), "--output", str(output)])
    captured = capsys.readouterr()
    completed = subprocess.CompletedProcess([], exit_code, captured.out, captured.err)
    assert_rejected_before_ray(completed, output, "Not a directory")


@needs_mount_namespace
def test_nearly_full_disk_rejected_before_ray(tmp_path):
    # 256 KiB: room for the probe file, not for the MLflow store, plots and checkpoints.
    completed, output = run_cli_on_mount(tmp_path, 256, "rw", fill=False)
    assert_rejected_before_ray(completed, output, "free")
