"""Our own check of every archive member, on top of tarfile's ``data`` filter (issue 26): archives shaped like the
known bypasses of the filter (CVE-2025-4517 and its family), links that lead out only together, special files,
member and byte caps (a million empty members), and hostile zip files. Archives are made in ``tmp_path``."""

from __future__ import annotations

import importlib
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

import pytest

from tests.support.archives import empty_members_tar_gz, tar_gz
from translate.data.download import DataSource, extract
from translate.errors import DataError

extract_mod = importlib.import_module("translate.data.download.extract")
members_mod = importlib.import_module("translate.data.download.members")

NAME = "set"


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "", size: int = 3) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    info.size = size if kind == tarfile.REGTYPE else 0
    return info


def folder(name: str) -> tarfile.TarInfo:
    return member(name, tarfile.DIRTYPE)


def symlink(name: str, target: str) -> tarfile.TarInfo:
    return member(name, tarfile.SYMTYPE, target)


def hardlink(name: str, target: str) -> tarfile.TarInfo:
    return member(name, tarfile.LNKTYPE, target)


def source(archive: str = "tar.gz") -> DataSource:
    return DataSource(name=NAME, url=f"http://127.0.0.1:1/{NAME}.{archive}", archive=archive, strip=NAME)


@pytest.fixture
def place(tmp_path: Path) -> Path:
    """A folder with a secret beside the extraction root, to see that nothing outside is touched."""
    (tmp_path / "secret.txt").write_text("secret")
    (tmp_path / "outside").mkdir()
    return tmp_path


def tree(folder_: Path) -> dict[str, object]:
    return {str(p.relative_to(folder_)): ("link" if p.is_symlink() else p.read_bytes() if p.is_file() else "dir")
            for p in sorted(folder_.rglob("*"))}


def refuse(place: Path, members: list[tarfile.TarInfo], offender: str, why: str,
           monkeypatch: pytest.MonkeyPatch) -> str:
    """Extract an archive of ``members`` (after one good file); it must be refused naming ``offender`` and
    saying ``why``, with nothing written anywhere: not one file (the first pass reads headers only)."""
    archive = place / f"{NAME}.tar.gz"
    archive.write_bytes(tar_gz({f"{NAME}/ok.txt": b"ok!"}, members))
    written: list[str] = []
    for maker in ("makefile", "makelink", "makedir", "makefifo", "makedev"):
        real = getattr(tarfile.TarFile, maker)
        monkeypatch.setattr(tarfile.TarFile, maker,
                            lambda self, info, path, _real=real: (written.append(info.name), _real(self, info, path)))
    before = {k: v for k, v in tree(place).items() if not k.startswith("root")}
    with pytest.raises(DataError) as err:
        extract(source(), archive, place / "root")
    text = str(err.value)
    assert text.startswith(f"refusing to extract {archive}: member {offender!r} ") and why in text, text
    assert "allowed: regular files and folders" in text and text.endswith("Nothing was extracted")
    assert written == []
    assert {k: v for k, v in tree(place).items() if not k.startswith("root")} == before
    assert list((place / "root").iterdir()) == []
    return text


# --------------------------------------------------------------------------- the known bypasses of the data filter


def realpath_overflow(depth: int = 16, width: int = 247) -> list[tarfile.TarInfo]:
    """CVE-2025-4517's shape: folders with long names, a short link to each, a link deep down that climbs back
    to the top through the short names, and a link through it one level further up: the real path grows past
    PATH_MAX, where ``os.path.realpath`` (which the filter trusts) stops resolving."""
    long_name, steps = "d" * width, "abcdefghijklmnop"[:depth]
    out, path = [], NAME
    for step in steps:
        out += [folder(f"{path}/{long_name}"), symlink(f"{path}/{step}", long_name)]
        path = f"{path}/{long_name}"
    deep = f"{NAME}/" + "/".join(steps) + "/" + "l" * 254
    return out + [symlink(deep, "../" * depth), symlink(f"{NAME}/escape", deep.removeprefix(f"{NAME}/") + "/../.."),
                  member(f"{NAME}/escape/pwned.txt")]


def test_realpath_overflow_is_refused_by_the_name_length(place, monkeypatch):
    offender = f"{NAME}/" + "/".join(["d" * 247] * 5)  # the fifth folder down: 1243 characters
    refuse(place, realpath_overflow(), offender, "has a name of 1243 characters (at most 1024)", monkeypatch)


def test_realpath_overflow_is_refused_by_where_the_links_lead(place, monkeypatch):
    """Even with no limit on name lengths, resolving the chain through the links already seen finds the way out."""
    monkeypatch.setattr(members_mod, "MAX_NAME_CHARS", 100_000)
    refuse(place, realpath_overflow(), f"{NAME}/escape", "is a symbolic link to ", monkeypatch)


def test_hardlink_through_a_link_that_later_leads_out(place, monkeypatch):
    """CVE-2025-4330's aim (a hard link to a file outside) by another road: 'up' points at 'd/..', harmless
    while 'd' is nothing; then 'd' becomes a link to '.', so 'up' now means the extraction folder's parent."""
    members = [symlink("up", "d/.."), symlink("d", "."), hardlink("h", "up/../secret.txt")]
    refuse(place, members, "h", "which has a '..' component", monkeypatch)
    members[-1] = hardlink("h", "up/secret.txt")
    refuse(place, members, "h", "is a hard link to 'up/secret.txt' that leads outside the extraction folder",
           monkeypatch)


def test_a_later_link_that_turns_an_earlier_one_outward_is_refused_at_the_end(place, monkeypatch):
    refuse(place, [symlink("up", "d/.."), symlink("d", ".")], "up",
           "is a symbolic link that, with the links after it, leads outside the extraction folder", monkeypatch)
    refuse(place, [symlink(f"{NAME}/up", "d/.."), symlink(f"{NAME}/d", ".")], f"{NAME}/up",
           "is a symbolic link that, with the links after it, leads out of the data set's folder 'set'", monkeypatch)


def test_links_may_not_leave_the_data_set_folder(place, monkeypatch):
    """The folder that becomes the data set is renamed into place: a link in it to its parent would then point at
    the folder of all data sets."""
    refuse(place, [symlink(f"{NAME}/parent", "..")], f"{NAME}/parent",
           "is a symbolic link to '..' that leads out of the data set's folder 'set'", monkeypatch)
    refuse(place, [symlink(f"{NAME}/readme", "../README")], f"{NAME}/readme", "leads out of the data set's folder",
           monkeypatch)


def test_writing_through_a_link_by_replacing_it(place, monkeypatch):
    """CVE-2024-12718's family: a member in the place of an earlier link would write (or chmod) where it points."""
    members = [folder(f"{NAME}/sub"), symlink(f"{NAME}/x", "sub"), member(f"{NAME}/x")]
    refuse(place, members, f"{NAME}/x", "in the place of an earlier member (a symbolic link to 'sub')", monkeypatch)
    members = [member(f"{NAME}/d/f"), symlink(f"{NAME}/d", "sub")]  # a folder tarfile made on the way
    refuse(place, members, f"{NAME}/d", "in the place of an earlier member (a folder)", monkeypatch)


@pytest.mark.parametrize("members, offender, why", [
    ([symlink(f"{NAME}/a", "b"), symlink(f"{NAME}/b", "a"), member(f"{NAME}/a/x")], f"{NAME}/a/x",
     "goes through more than 40 links"),
    ([symlink("a/up", ".."), symlink("a/out", "up/.."), member("a/out/p")], "a/out",
     "is a symbolic link to 'up/..' that leads outside the extraction folder"),
    ([symlink(f"{NAME}/abs", "/etc")], f"{NAME}/abs", "an empty or absolute target"),
    ([hardlink(f"{NAME}/h", "/etc/passwd")], f"{NAME}/h", "which has an absolute path"),
    ([hardlink(f"{NAME}/h", "etc/passwd")], f"{NAME}/h", "which is not a regular file extracted before it"),
    ([folder(f"{NAME}/dir"), hardlink(f"{NAME}/h", f"{NAME}/dir")], f"{NAME}/h", "not a regular file"),
    ([member(f"{NAME}/../evil.txt")], f"{NAME}/../evil.txt", "has a '..' component"),
    ([member("/abs/evil.txt")], "/abs/evil.txt", "has an absolute path"),
    ([member(f"{NAME}/" + "x" * 300)], f"{NAME}/" + "x" * 300, "a name part longer than 255 bytes"),
    ([member(f"{NAME}/dev", tarfile.CHRTYPE)], f"{NAME}/dev", "is a character device"),
    ([member(f"{NAME}/blk", tarfile.BLKTYPE)], f"{NAME}/blk", "is a block device"),
    ([member(f"{NAME}/fifo", tarfile.FIFOTYPE)], f"{NAME}/fifo", "is a FIFO"),
    ([member(f"{NAME}/odd", b"Z")], f"{NAME}/odd", "is of the unknown member type b'Z'"),
    ([member("./")], "./", "names the extraction folder itself"),
], ids=["loop", "chain", "absolute-symlink", "absolute-hardlink", "hardlink-to-nothing", "hardlink-to-folder",
        "dotdot", "absolute", "long-part", "char-device", "block-device", "fifo", "unknown-type", "the-folder"])
def test_unsafe_members_are_refused_before_anything_is_written(place, monkeypatch, members, offender, why):
    refuse(place, members, offender, why, monkeypatch)


def test_links_and_names_that_stay_inside_are_extracted(tmp_path):
    archive = tmp_path / "fine.tar.gz"
    archive.write_bytes(tar_gz({f"./{NAME}/a/1.txt": b"one"}, [
        folder(f"{NAME}/a"),  # named again
        symlink(f"{NAME}/latest", "a/1.txt"), symlink(f"{NAME}/b", "a"), symlink(f"{NAME}/b2", "b/../a"),
        hardlink(f"{NAME}/copy.txt", f"{NAME}/b/1.txt"), member(f"{NAME}/b/2.txt"),
    ]))
    target = extract(source(), archive, tmp_path / "root")
    assert (target / "latest").read_text() == "one" and (target / "b2" / "1.txt").read_text() == "one"
    assert (target / "copy.txt").read_text() == "one" and not (target / "copy.txt").is_symlink()
    assert (target / "a" / "2.txt").read_bytes() == b"xxx"  # written through the link 'b', inside


# --------------------------------------------------------------------------- the member cap


def test_a_million_empty_members_are_refused_from_the_headers(tmp_path, monkeypatch):
    monkeypatch.delenv(members_mod.MAX_MEMBERS_ENV, raising=False)
    archive = tmp_path / f"{NAME}.tar.gz"
    size = empty_members_tar_gz(archive, 1_000_000, NAME)
    limit = extract_mod.member_limit(source(), archive)
    assert limit == max(extract_mod.MIN_MEMBER_LIMIT, size // extract_mod.BYTES_PER_MEMBER) < 1_000_000
    seen: list[str] = []
    monkeypatch.setattr(tarfile.TarFile, "makefile", lambda self, info, path: seen.append(info.name))
    with pytest.raises(DataError) as err:
        extract(source(), archive, tmp_path / "root")
    assert str(err.value) == (
        f"refusing to extract {archive}: it holds more than the limit of {limit} members (member "
        f"'{NAME}/{limit:07d}' is number {limit + 1}); an archive bomb of many small members, or a data set of many "
        f"more files than its size suggests: if you trust it, set TRANSLATE_MAX_EXTRACT_MEMBERS to a larger count. "
        "Nothing was extracted")
    assert seen == [] and list((tmp_path / "root").iterdir()) == []


def test_member_cap_from_the_keyword_and_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(members_mod.MAX_MEMBERS_ENV, raising=False)
    archive = tmp_path / f"{NAME}.tar.gz"
    empty_members_tar_gz(archive, 30, NAME)
    with pytest.raises(DataError, match="more than the limit of 29 members"):
        extract(source(), archive, tmp_path / "root", max_members=29)
    assert len(list(extract(source(), archive, tmp_path / "a", max_members=30).iterdir())) == 30
    monkeypatch.setenv(members_mod.MAX_MEMBERS_ENV, "29")
    with pytest.raises(DataError, match="more than the limit of 29 members"):
        extract(source(), archive, tmp_path / "root")
    monkeypatch.setenv(members_mod.MAX_MEMBERS_ENV, "many")
    with pytest.raises(DataError, match=r"TRANSLATE_MAX_EXTRACT_MEMBERS='many': expected a positive number of members"):
        extract(source(), archive, tmp_path / "root")


# --------------------------------------------------------------------------- zip


def zip_local(name: bytes, data: bytes = b"") -> bytes:
    return struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 0, 0, 0, zlib.crc32(data), len(data), len(data),
                       len(name), 0) + name + data


def zip_central(name: bytes, size: int, crc: int, offset: int, flags: int = 0) -> bytes:
    return struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, flags, 0, 0, 0, crc, size, size, len(name),
                       0, 0, 0, 0, 0o100644 << 16, offset) + name


def zip_end(count: int, directory_size: int, directory_at: int) -> bytes:
    return struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, directory_size, directory_at, 0)


@pytest.mark.parametrize("bad, why", [("/abs.txt", "has an absolute path"), ("../evil.txt", "has a '..' component"),
                                      (f"{NAME}/../../evil.txt", "'..' component"), ("C:/evil.txt", "absolute path"),
                                      ("..\\evil.txt", "'..' component"),
                                      (f"{NAME}/" + "x" * 1100, "has a name of 1104 characters (at most 1024)")])
def test_zip_names_are_refused(tmp_path, bad, why):
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"{NAME}/1.txt", b"ok")
        zf.writestr(bad, b"evil")
    with pytest.raises(DataError) as err:
        extract(source("zip"), archive, tmp_path / "root")
    assert str(err.value).startswith(f"refusing to extract {archive}: member {bad!r} ") and why in str(err.value)
    assert "allowed: regular files and folders" in str(err.value)
    assert list((tmp_path / "root").iterdir()) == [] and not (tmp_path / "evil.txt").exists()


def test_zip_links_and_encrypted_members_are_refused(tmp_path):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo(f"{NAME}/link")
        info.external_attr = 0o120777 << 16
        zf.writestr(info, "../../etc/passwd")
    with pytest.raises(DataError, match=r"member 'set/link' is a link or special file"):
        extract(source("zip"), archive, tmp_path / "root")
    name = f"{NAME}/secret.txt".encode()
    archive.write_bytes(zip_local(name, b"abc") + zip_central(name, 3, zlib.crc32(b"abc"), 0, flags=1)
                        + zip_end(1, 46 + len(name), 30 + len(name) + 3))
    with pytest.raises(DataError, match=r"member 'set/secret.txt' is encrypted"):
        extract(source("zip"), archive, tmp_path / "root")


def test_overlapping_zip_entries_are_refused(tmp_path):
    """A zip bomb without nesting: many entries point at one block of compressed data."""
    kernel = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = kernel.compress(b"\0" * 1_000_000) + kernel.flush()
    name = f"{NAME}/0.bin".encode()
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0, zlib.crc32(b"\0" * 1_000_000), len(data),
                        1_000_000, len(name), 0) + name + data
    central = b"".join(struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0,
                                   zlib.crc32(b"\0" * 1_000_000), len(data), 1_000_000, len(n), 0, 0, 0, 0,
                                   0o100644 << 16, 0) + n
                       for n in (f"{NAME}/{i}.bin".encode() for i in range(3)))
    archive = tmp_path / "overlap.zip"
    archive.write_bytes(local + central + zip_end(3, len(central), len(local)))
    with pytest.raises(DataError, match=r"member 'set/\d.bin' overlaps 'set/\d.bin' \(entries that share compressed "
                                        r"data are a zip bomb\)"):
        extract(source("zip"), archive, tmp_path / "root", max_bytes=10_000_000)
    assert list((tmp_path / "root").iterdir()) == []


def test_a_zip_of_a_million_entries_is_refused_from_its_headers(tmp_path, monkeypatch):
    """The central directory's entries are counted from their headers; the end record's count (here 1) is not
    trusted, and zipfile never reads the million entries."""
    monkeypatch.delenv(members_mod.MAX_MEMBERS_ENV, raising=False)
    first = f"{NAME}/0000000".encode()
    local = zip_local(first)
    fixed = zip_central(first, 0, 0, 0)[:-len(first)]
    central = b"".join(fixed + b"%s/%07d" % (NAME.encode(), i) for i in range(1_000_000))
    archive = tmp_path / "many.zip"
    archive.write_bytes(local + central + zip_end(1, len(central), len(local)))
    assert members_mod.zip_entry_count(archive, stop_after=10**7) == 1_000_000
    opened: list[Path] = []
    monkeypatch.setattr(zipfile.ZipFile, "__init__", lambda self, *a, **k: opened.append(a[0]))
    limit = extract_mod.member_limit(source("zip"), archive)
    with pytest.raises(DataError, match=rf"more than the limit of {limit} members \(its central directory holds "
                                        rf"more than {limit} entries\)"):
        extract(source("zip"), archive, tmp_path / "root")
    assert opened == []


def test_zip_entry_count_of_ordinary_zips(tmp_path):
    archive = tmp_path / "ok.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(7):
            zf.writestr(f"{NAME}/{i}.txt", b"x" * i)
        zf.comment = b"a comment at the end"
    assert members_mod.zip_entry_count(archive, stop_after=100) == 7
    assert members_mod.zip_entry_count(archive, stop_after=3) == 4  # stops one past the cap
    (tmp_path / "not.zip").write_bytes(b"not a zip at all")
    assert members_mod.zip_entry_count(tmp_path / "not.zip", stop_after=3) == 0
    assert len(list(extract(source("zip"), archive, tmp_path / "root").iterdir())) == 7
