"""A corpus of broken and unusual inputs, generated here in tmp_path, through `srcli upscale`
and `srcli bench` (issue 23). For each: the exit code, the one-line message, what the output
decodes to (size, mode, bit depth) and that nothing partial is left behind.

docs/bad-inputs.md is the table of these behaviours for users.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps
from typer.testing import CliRunner

from srcli.cli.app import app

runner = CliRunner()
BICUBIC = ["-m", "bicubic", "-s", "2"]


def upscale(*args: str) -> tuple[int, dict | None, str]:
    """(exit code, --json summary or None, stderr) of `srcli upscale ARGS -m bicubic -s 2`."""
    res = runner.invoke(app, ["upscale", *args, *BICUBIC, "--json"], prog_name="srcli")
    summary = json.loads(res.stdout) if res.stdout.strip() else None
    return res.exit_code, summary, res.stderr


def failed_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("failed")]


def noise(h: int, w: int, channels: int = 3, seed: int = 0, dtype: type = np.uint8
          ) -> np.ndarray:
    top = 65535 if dtype == np.uint16 else 255
    shape = (h, w) if channels == 1 else (h, w, channels)
    return np.random.default_rng(seed).integers(0, top + 1, shape).astype(dtype)


def encoded(fmt: str, h: int = 24, w: int = 32, **params: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(noise(h, w)).save(buf, format=fmt, **params)
    return buf.getvalue()


def no_partial_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.endswith(".part")]


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "out"


# ------------------------------------------------------------------ unreadable files


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


def png_claiming(width: int, height: int, rows: int = 2, cut: bool = False) -> bytes:
    """A valid-looking 8-bit RGB PNG whose header says width x height but whose data holds
    `rows` rows (`cut`: its zlib stream stops halfway): a lying header, and for huge sizes a
    decompression bomb's header. Every chunk has a correct CRC."""
    raw = b"".join(b"\x00" + bytes(range(256))[: 3 * min(width, 64)] * 3 for _ in range(rows))
    data = zlib.compress(raw)
    data = data[: len(data) // 2] if cut else data
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height,
                                                                    8, 2, 0, 0, 0))
            + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b""))


BROKEN: dict[str, Callable[[], bytes]] = {
    "empty.png": lambda: b"",
    "truncated.png": lambda: encoded("PNG")[:120],
    "truncated.jpg": lambda: encoded("JPEG")[:300],
    "truncated.webp": lambda: encoded("WEBP")[:60],
    "truncated.tif": lambda: encoded("TIFF")[:200],
    "text.jpg": lambda: b"this is not an image\n" * 10,
    "lying_header.png": lambda: png_claiming(64, 64, rows=64, cut=True),
    "zero_width.png": lambda: png_claiming(0, 64),
    "lying_header.bmp": lambda: encoded("BMP", 64, 64)[:154],
    "bad_crc.png": lambda: encoded("PNG")[:40] + b"\xff" * 8 + encoded("PNG")[48:],
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_an_unreadable_file_is_one_failed_line_and_leaves_nothing(name: str, tmp_path: Path,
                                                                   out: Path) -> None:
    src = tmp_path / name
    src.write_bytes(BROKEN[name]())
    code, summary, stderr = upscale(str(src), "-o", f"{out}/")
    assert code == 1
    assert failed_lines(stderr) == [f"failed  {src}: " + summary["files"][0]["error"]
                                    .removeprefix(f"{src}: ")]
    assert "cannot read image" in stderr and "internal error" not in stderr
    assert not out.exists() or not list(out.iterdir())  # no output, temp or claim file


def test_a_broken_file_in_a_batch_does_not_stop_the_others(tmp_path: Path, out: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name, make in BROKEN.items():
        (folder / name).write_bytes(make())
    Image.fromarray(noise(10, 14)).save(folder / "good.png")
    code, summary, stderr = upscale(str(folder), "-o", str(out))
    assert code == 1 and (summary["ok"], summary["failed"]) == (1, len(BROKEN))
    assert len(failed_lines(stderr)) == len(BROKEN)
    assert sorted(p.name for p in out.iterdir()) == ["good_x2.png"] and no_partial_files(out)


def test_a_declared_huge_image_is_refused_before_decoding(tmp_path: Path, out: Path) -> None:
    src = tmp_path / "bomb.png"
    src.write_bytes(png_claiming(100_000, 100_000))
    start = time.perf_counter()
    code, _, stderr = upscale(str(src), "-o", f"{out}/")
    assert code == 1 and time.perf_counter() - start < 5
    [line] = failed_lines(stderr)
    assert line.startswith(f"failed  {src}: 100000x100000 = 10,000,000,000 pixels exceeds the "
                           "limit of ") and line.endswith(" (raise it with --max-pixels)")
    assert not out.exists() or not list(out.iterdir())


# ------------------------------------------------------------------ unusual but valid files


def _save(path: Path, arr: np.ndarray, mode: str | None = None, **params: object) -> Path:
    Image.fromarray(arr, mode=mode).save(path, **params)
    return path


def test_pixel_formats_keep_their_mode_and_bit_depth(tmp_path: Path, out: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(noise(12, 16, 1, dtype=np.uint16)).save(src / "gray16.png")
    cv2.imwrite(str(src / "rgb16.png"), noise(12, 16, 3, dtype=np.uint16))
    cv2.imwrite(str(src / "rgb16.tif"), noise(12, 16, 3, dtype=np.uint16))
    Image.new("CMYK", (16, 12), (10, 200, 30, 5)).save(src / "cmyk.jpg", quality=95)
    _save(src / "la.png", noise(12, 16, 2), "LA")
    pal = Image.fromarray(noise(12, 16, 1) % 4).convert("P")
    pal.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 756)
    pal.save(src / "ptrns.png", transparency=0)
    _save(src / "gray8.tif", noise(12, 16, 1))
    _save(src / "rgb8.tif", noise(12, 16, 3))
    cv2.imwrite(str(src / "opencv.tif"), noise(12, 16, 3))
    Image.fromarray(noise(12, 16, 1)).convert("1").save(src / "bilevel.png")
    code, summary, stderr = upscale(str(src), "-o", str(out))
    assert code == 0, stderr
    assert summary["ok"] == 10 and no_partial_files(out)

    def opened(name: str) -> Image.Image:
        im = Image.open(out / name)
        assert im.size == (32, 24), name
        return im

    assert opened("gray16_x2.png").mode in ("I;16", "I")
    for name in ("rgb16_x2.png", "rgb16_x2.tif"):
        arr = cv2.imread(str(out / name), cv2.IMREAD_UNCHANGED)
        assert arr.dtype == np.uint16 and arr.shape == (24, 32, 3), name
    assert opened("cmyk_x2.jpg").mode == "RGB"
    assert opened("la_x2.png").mode == "LA"
    assert opened("ptrns_x2.png").mode == "RGBA"
    assert opened("bilevel_x2.png").mode == "L"
    for name, mode in (("gray8_x2.tif", "L"), ("rgb8_x2.tif", "RGB"), ("opencv_x2.tif", "RGB")):
        im = opened(name)
        assert im.mode == mode
        im.load()  # the whole image decodes, not just its header
        assert cv2.imread(str(out / name)).shape[:2] == (24, 32)


def test_tiff_output_carries_no_tags_of_the_input(tmp_path: Path, out: Path) -> None:
    """Issue 23.1: the input's ImageWidth/StripOffsets... came along as EXIF and overrode
    the output's own, so Pillow read half the image."""
    src = _save(tmp_path / "single.tif", noise(64, 96))
    code, _, stderr = upscale(str(src), "-o", f"{out}/")
    assert code == 0, stderr
    with Image.open(out / "single_x2.tif") as im:
        assert im.size == (192, 128)
        assert np.asarray(im).shape == (128, 192, 3)
        assert 282 not in im.tag_v2  # no resolution invented from Pillow's 1-dpi default
    code, _, _ = upscale(str(src), "-o", str(out / "single.png"))
    with Image.open(out / "single.png") as im:
        assert code == 0 and not {256, 257, 273, 279} & set(im.getexif())


def test_only_the_first_frame_of_animated_gif_and_multipage_tiff_with_a_note(
        tmp_path: Path, out: Path) -> None:
    frames = [Image.fromarray(noise(10, 12, seed=i)) for i in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=50)
    frames[0].save(tmp_path / "pages.tif", save_all=True, append_images=frames[1:2])
    code, summary, stderr = upscale(str(tmp_path / "anim.gif"), str(tmp_path / "pages.tif"),
                                    "-o", str(out))
    assert code == 0, stderr
    notes = {Path(f["input"]).name: f["notes"] for f in summary["files"]}
    assert notes["anim.gif"] == ["only the first of 3 frames was read (GIF with several frames)"]
    assert notes["pages.tif"] == ["only the first of 2 pages was read (TIFF with several pages)"]
    assert Image.open(out / "anim_x2.png").size == (24, 20)  # GIF is not an output format
    assert Image.open(out / "pages_x2.tif").size == (24, 20)
    # A folder holding only GIFs: GIF is not an image suffix srcli collects from folders.
    gifs = tmp_path / "gifs"
    gifs.mkdir()
    shutil.copy(tmp_path / "anim.gif", gifs)
    code, _, stderr = upscale(str(gifs), "-o", str(out))
    assert code == 1 and "folder holds no images" in stderr


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_to_the_pixels_and_reset(orientation: int, tmp_path: Path,
                                                             out: Path) -> None:
    arr = np.full((8, 12, 3), 90, np.uint8)
    arr[:4, :6] = (255, 0, 0)  # a red top-left quadrant shows where the corner went
    exif = Image.Exif()
    exif[0x0112] = orientation
    src = _save(tmp_path / f"o{orientation}.png", arr, exif=exif.tobytes())
    code, _, stderr = upscale(str(src), "-o", f"{out}/")
    assert code == 0, stderr
    with Image.open(src) as im:
        want = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    with Image.open(out / f"o{orientation}_x2.png") as res:
        got = np.asarray(res.convert("RGB"))
        assert res.getexif().get(0x0112, 1) == 1
    assert got.shape[:2] == (want.shape[0] * 2, want.shape[1] * 2)
    red_want = (want[..., 0] > 200).nonzero()
    red_got = (got[2:-2, 2:-2, 0] > 200).nonzero()  # away from the bicubic edge ringing
    assert (red_want[0].mean() < want.shape[0] / 2) == (red_got[0].mean() + 2 < got.shape[0] / 2)
    assert (red_want[1].mean() < want.shape[1] / 2) == (red_got[1].mean() + 2 < got.shape[1] / 2)


def test_odd_file_names(tmp_path: Path, out: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    names = ["a b.png", "ünïcødé.png", "[x].png", "-dash.png", "UPPER.PNG", "two.dots.jpg",
             "percent%20.png", "semi;colon.png"]
    for name in names:
        Image.fromarray(noise(6, 8)).save(folder / name,
                                          format="JPEG" if name.endswith("jpg") else "PNG")
    (folder / ".hidden.png").write_bytes((folder / "a b.png").read_bytes())
    os.symlink(folder / "missing.png", folder / "dangling.png")
    code, summary, stderr = upscale(str(folder), "-o", str(out))
    assert code == 0, stderr
    assert summary["ok"] == len(names)  # hidden and dangling entries are not inputs
    got = sorted(p.name for p in out.iterdir())
    assert got == sorted(f"{Path(n).stem}_x2{Path(n).suffix.lower()}" for n in names)
    # named directly, a glob-looking name that exists is a file, and "--" ends the options
    res = runner.invoke(app, ["upscale", *BICUBIC, "-o", str(out / "direct"), "--",
                              str(folder / "[x].png"), "-dash.png"], prog_name="srcli")
    assert res.exit_code == 1  # "-dash.png" is not in the current folder
    assert sorted(p.name for p in (out / "direct").iterdir()) == ["[x]_x2.png"]


def test_jpeg_bytes_behind_a_png_name_are_read_by_content(tmp_path: Path, out: Path) -> None:
    src = tmp_path / "really_a_jpeg.png"
    src.write_bytes(encoded("JPEG", 10, 12))
    code, _, stderr = upscale(str(src), "-o", f"{out}/")
    assert code == 0, stderr
    with Image.open(out / "really_a_jpeg_x2.png") as im:
        assert (im.format, im.size) == ("PNG", (24, 20))


# ------------------------------------------------------------------ folders, links, globs


@pytest.fixture
def looped(tmp_path: Path) -> Path:
    """tree/{a.png, sub/b.png} with `loopdir -> .` and `sub/up -> ..` (issue 23.3)."""
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    Image.fromarray(noise(6, 8)).save(tree / "a.png")
    Image.fromarray(noise(6, 8, seed=1)).save(tree / "sub" / "b.png")
    os.symlink(".", tree / "loopdir")
    os.symlink("..", tree / "sub" / "up")
    return tree


def test_symlink_loops_end_for_recursive_globs_and_folders(looped: Path, out: Path) -> None:
    # In a subprocess with a timeout: the bug this guards against was a hang with RSS growing.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    try:
        res = subprocess.run([sys.executable, "-m", "srcli", "upscale", f"{looped}/**/*.png",
                              *BICUBIC, "-o", str(out / "glob")], env=env, capture_output=True,
                             text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("a quoted ** pattern over a symlink loop did not end in 60 s")
    assert res.returncode == 0 and "2 upscaled" in res.stderr, res.stderr
    code, summary, stderr = upscale(str(looped), "-r", "-o", str(out / "rec"))
    assert code == 0 and summary["ok"] == 2, stderr
    assert sorted(str(p.relative_to(out / "rec")) for p in (out / "rec").rglob("*.png")) == [
        "a_x2.png", "sub/b_x2.png"]


def _without_dac() -> list[str]:
    """A command prefix that makes root obey file permissions, or [] when not needed."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: permissions cannot be tested")
    prefix = [setpriv, "--inh-caps=-dac_override,-dac_read_search",
              "--bounding-set=-dac_override,-dac_read_search"]
    if subprocess.run([*prefix, "true"], capture_output=True).returncode != 0:
        pytest.skip("setpriv cannot drop CAP_DAC_OVERRIDE here")
    return prefix


def _srcli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([*_without_dac(), sys.executable, "-m", "srcli", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_unreadable_files_and_folders_are_failed_items(looped: Path, out: Path) -> None:
    locked_file = looped / "sub" / "locked.png"
    Image.fromarray(noise(6, 8)).save(locked_file)
    locked_dir = looped / "private"
    locked_dir.mkdir()
    Image.fromarray(noise(6, 8)).save(locked_dir / "c.png")
    locked_file.chmod(0)
    locked_dir.chmod(0)
    try:
        res = _srcli("upscale", str(looped), "-r", *BICUBIC, "-o", str(out))
        top = _srcli("upscale", str(locked_dir), str(looped / "a.png"), *BICUBIC, "-o",
                     str(out.with_name("top")))
    finally:
        locked_file.chmod(0o644)
        locked_dir.chmod(0o755)
    assert res.returncode == 1, res.stderr
    failed = failed_lines(res.stderr)
    assert failed == [f"failed  {locked_dir}: cannot read folder (Permission denied)",
                      f"failed  {locked_file}: permission denied (cannot read it)"]
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.png")) == [
        "a_x2.png", "sub/b_x2.png"]
    assert top.returncode == 1 and "2 file(s)" in top.stderr
    assert failed_lines(top.stderr) == [f"failed  {locked_dir}: cannot read folder "
                                        "(Permission denied)"]
    assert (out.with_name("top") / "a_x2.png").is_file()


# ------------------------------------------------------------------ outputs


def test_trailing_slash_means_a_folder_for_one_input(tmp_path: Path) -> None:
    src = _save(tmp_path / "one.png", noise(6, 8))
    code, _, stderr = upscale(str(src), "-o", f"{tmp_path / 'new'}/")
    assert code == 0, stderr
    assert (tmp_path / "new" / "one_x2.png").is_file()
    code, _, stderr = upscale(str(src), "-o", f"{tmp_path / 'bmp'}/", "-f", "bmp")
    with Image.open(tmp_path / "bmp" / "one_x2.bmp") as im:
        assert code == 0 and (im.format, im.size) == ("BMP", (16, 12))


def test_stale_temp_files_of_a_killed_run_are_removed(tmp_path: Path, out: Path) -> None:
    src = _save(tmp_path / "one.png", noise(6, 8))
    out.mkdir()
    stale = out / ".one_x2.png.k3j_9abc.part"
    stale.write_bytes(b"half an image")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    fresh = out / ".other.png.abcdefgh.part"  # newer than this process: another run's
    fresh.write_bytes(b"being written")
    theirs = out / ".notes.txt.abcdefgh.part"  # not our naming pattern
    theirs.write_bytes(b"x")
    os.utime(theirs, (old, old))
    code, _, stderr = upscale(str(src), "-o", f"{out}/")
    assert code == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == [
        ".notes.txt.abcdefgh.part", ".other.png.abcdefgh.part", "one_x2.png"]


def test_existing_output_is_refused_before_the_model_loads(tmp_path: Path) -> None:
    src = _save(tmp_path / "one.png", noise(6, 8))
    (tmp_path / "one_x2.png").write_bytes(b"keep me")
    res = runner.invoke(app, ["upscale", str(src), "-m", "dan+", "-s", "2", "--weights",
                              str(tmp_path / "absent.safetensors")], prog_name="srcli")
    # the weights file does not exist: reaching the model would have failed on that instead
    assert res.exit_code == 1
    assert failed_lines(res.stderr) == [f"failed  {src}: {tmp_path / 'one_x2.png'} exists "
                                        "(use --overwrite or --skip-existing)"]
    assert "model not loaded" in res.stderr
    assert (tmp_path / "one_x2.png").read_bytes() == b"keep me"


# ------------------------------------------------------------------ options and weights


@pytest.mark.parametrize("args", [["--tile", "8"], ["--device", "cuda:7"]])
def test_option_values_the_engine_refuses_are_usage_errors(args: list[str],
                                                           tmp_path: Path) -> None:
    src = _save(tmp_path / "one.png", noise(6, 8))
    res = runner.invoke(app, ["upscale", str(src), *BICUBIC, *args], prog_name="srcli")
    assert res.exit_code == 2, res.output
    assert not (tmp_path / "one_x2.png").exists()


@pytest.mark.parametrize("seed", range(12))
def test_random_bytes_as_weights_are_refused_cleanly(seed: int, tmp_path: Path) -> None:
    rng = np.random.default_rng(seed)
    junk = tmp_path / "random.bin"
    head = b"\x80" if seed % 2 else b""  # half look like a pickle's first byte
    junk.write_bytes(head + rng.bytes(int(rng.integers(1, 4000))))
    src = _save(tmp_path / "one.png", noise(6, 8))
    res = runner.invoke(app, ["upscale", str(src), "-m", "dan", "-s", "2", "--weights",
                              str(junk)], prog_name="srcli")
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and "internal error" not in res.stderr
    assert str(junk) in " ".join(res.stderr.split())


def test_out_of_memory_on_the_cpu_says_what_was_needed() -> None:
    from srcli.errors import SrcliError
    from srcli.inference.engine import MIN_TILE, EngineOptions, Upscaler
    from srcli.models import create_model

    up = Upscaler(create_model("bicubic", 4), EngineOptions(device="cpu", tile=MIN_TILE,
                                                           tile_overlap=8))
    with pytest.raises(SrcliError) as info:
        up._smaller_tile(20_000, 30_000)  # what the engine calls after an OOM at MIN_TILE
    text = str(info.value)
    assert "out of memory on the CPU even with --tile 32" in text
    # float32 input + x4 output: 30000 * 20000 * 3 * 4 * (1 + 16) bytes = 114.0 GiB
    assert "30000x20000 image needs about 114.0 GiB" in text and "GiB is available" in text
    assert "--device cpu" not in text


def test_models_list_shows_each_scales_own_size() -> None:
    res = runner.invoke(app, ["models", "list"], prog_name="srcli")
    assert res.exit_code == 0
    lines = res.stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if line.split()[:1] == ["dan"])
    # x2 is 632 K, x4 0.72 M: one figure per scale, on the lines of the Set5 column
    sizes = [line.split("M")[0].split()[-1] for line in lines[first:first + 3]]
    assert sizes[0] == "0.63" and len(set(sizes)) > 1, sizes


# ------------------------------------------------------------------ bench


def test_bench_reports_an_unreadable_image_and_scores_the_rest(tmp_path: Path) -> None:
    hr = tmp_path / "myset"
    hr.mkdir()
    for i in range(2):
        _save(hr / f"img_{i}.png", noise(32, 40, seed=i))
    (hr / "img_bad.png").write_bytes(encoded("PNG")[:150])
    (hr / "img_empty.png").write_bytes(b"")
    res = runner.invoke(app, ["bench", "-d", str(hr), "-m", "bicubic", "-s", "2", "--json",
                              "-"], prog_name="srcli")
    assert res.exit_code == 1, res.output
    rows = json.loads(res.stdout)
    assert [r["images"] for r in rows] == [2] and rows[0]["psnr"] > 10
    failed = failed_lines(res.stderr)
    assert len(failed) == 2 and all("left out of the scores" in f for f in failed)
    assert "bicubic" in res.stderr and "2 image(s) could not be read" in res.stderr
