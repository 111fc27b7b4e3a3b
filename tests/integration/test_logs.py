"""Log files on real disks: rotation by copy-truncate, bounded reading, bounded followers
(issue 11)."""

from __future__ import annotations

import asyncio
import os
import tracemalloc
from pathlib import Path

from colony.core.logcap import CUT_MARK, LogCap
from colony.daemon.logfiles import rotate
from colony.daemon.logs import FOLLOW_BYTES, Follower, LogBook

MB = 1 << 20
CAP = LogCap(size=MB, files=3)


def lines(n: int, start: int = 0) -> bytes:
    return b"".join(b"line %08d %s\n" % (i, b"." * 40) for i in range(start, start + n))


def sizes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted(folder.iterdir())}


def test_rotation_keeps_the_newest_within_the_cap(tmp_path: Path) -> None:
    """When a log grows past its cap, its newest bytes move to .1 (older copies shift, at
    most files-1 of them) and the file starts again empty; a writer holding it O_APPEND
    carries on at its start, leaving no hole."""
    log = tmp_path / "web.log"
    writer = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for round_ in range(4):
            os.write(writer, lines(50_000, round_ * 50_000))  # ~2.7 MB
            done = rotate(log, CAP)
            assert done is not None
            assert done.kept <= MB
            assert log.stat().st_size == 0
        os.write(writer, b"after\n")
    finally:
        os.close(writer)
    assert log.read_bytes() == b"after\n"
    assert set(sizes(tmp_path)) == {"web.log", "web.log.1", "web.log.2"}
    assert all(size <= MB for size in sizes(tmp_path).values())
    newest = (tmp_path / "web.log.1").read_bytes()
    assert newest.endswith(lines(1, 199_999))
    assert (tmp_path / "web.log.2").read_bytes().endswith(lines(1, 149_999))
    assert rotate(log, CAP) is None  # small again: nothing to do


def test_one_file_means_truncation_and_fewer_files_drop_the_rest(tmp_path: Path) -> None:
    """When only one file is kept, a log over its cap is emptied; copies beyond a smaller
    --log-files go at the next rotation."""
    log = tmp_path / "web.log"
    for name in ("web.log.1", "web.log.2", "web.log.3"):
        (tmp_path / name).write_bytes(b"old\n")
    log.write_bytes(lines(30_000))
    done = rotate(log, LogCap(size=MB, files=2))
    assert done is not None
    assert done.dropped > 0
    assert set(sizes(tmp_path)) == {"web.log", "web.log.1"}
    log.write_bytes(lines(30_000))
    assert rotate(log, LogCap(size=MB, files=1)) is not None
    assert log.stat().st_size == 0


def test_a_symlink_is_never_rotated(tmp_path: Path) -> None:
    """When a log file is a symlink, rotation does not follow it: the target is untouched."""
    target = tmp_path / "precious"
    target.write_bytes(lines(30_000))
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "web.log").symlink_to(target)
    assert rotate(tmp_path / "logs" / "web.log", CAP) is None
    assert target.stat().st_size == len(lines(30_000))


async def test_a_huge_line_costs_the_reader_little_memory(tmp_path: Path) -> None:
    """When a service writes 50 MB without a newline while a follower is attached, the
    reader holds a bounded amount: the line comes out cut at 64 KiB, and the rotation keeps
    the files within the cap."""
    logs = tmp_path / "logs"
    book = LogBook(CAP)
    colony = book.open("c", logs)
    follower = Follower()
    colony.followers.add(follower)
    chunk = b"z" * MB
    tracemalloc.start()
    try:
        with (logs / "web.log").open("ab") as f:
            for _ in range(50):
                f.write(chunk)
                f.flush()
                colony.poll()
            f.write(b"\nend\n")
        await colony.cap(CAP)
        (logs / "web.log").write_bytes(b"fresh\n")
        colony.poll()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MB
    got = [e["line"] for e in follower.take()]
    assert got[0] == "z" * 64 * 1024 + CUT_MARK
    assert got[-1] == "fresh"
    assert any("MB of web's output skipped" in line for line in got)
    assert all(size <= MB for size in sizes(logs).values())


def test_a_slow_follower_misses_lines_and_is_told() -> None:
    """When a follower does not take its lines, it holds at most FOLLOW_BYTES; the lines
    beyond are counted and reported first when it reads again."""
    follower = Follower()
    for i in range(20_000):
        follower.put({"t": 0.0, "source": "web", "line": f"{i:0100d}"})
    assert follower.held <= FOLLOW_BYTES
    got = follower.take()
    assert got[0]["line"].startswith("… ")
    assert got[0]["line"].endswith("lines missed: this reader fell behind")
    assert int(got[0]["line"].split()[1]) + len(got) - 1 == 20_000
    assert follower.take() == []


async def test_the_book_caps_every_colony_it_knows(tmp_path: Path) -> None:
    """When a colony nobody follows floods its log, the book's periodic look rotates it
    anyway, and `colony logs` shows the newest lines."""
    logs = tmp_path / "logs"
    book = LogBook(CAP)
    book.open("quiet", logs)
    (logs / "job.log").write_bytes(lines(200_000))  # ~11 MB
    runner = asyncio.ensure_future(book.run())
    try:
        for _ in range(60):
            await asyncio.sleep(0.1)
            # Rotated: the live file emptied and the old lines renamed into place (the rename
            # comes last, from a worker thread the loop does not wait for).
            if (logs / "job.log").stat().st_size == 0 and (logs / "job.log.1").exists():
                break
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    assert all(size <= MB for size in sizes(logs).values())
    assert set(sizes(logs)) == {"job.log", "job.log.1"}
    with (logs / "job.log").open("ab") as f:
        f.write(b"tail line\n")
    assert book.lines("quiet", "job", 1) == [
        {"t": book.lines("quiet", "job", 1)[0]["t"], "source": "job", "line": "tail line"}
    ]
