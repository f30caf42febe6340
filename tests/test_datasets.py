"""Every adapter on a small fixture folder written in its database's real layout and format."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from PIL import Image
from scipy import io as sio

from genziqa import datasets
from genziqa.datasets import DatasetError, DatasetInfo, load_table, parse_spec

_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP"}
_BYTES: dict[str, bytes] = {}


def _image(path: Path) -> Path:
    """Write a tiny real 8x8 image in the format of its extension."""
    fmt = _FORMATS[path.suffix.lower()]
    if fmt not in _BYTES:
        buffer = io.BytesIO()
        Image.new("RGB", (8, 8), (120, 60, 30)).save(buffer, format=fmt)
        _BYTES[fmt] = buffer.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_BYTES[fmt])
    return path


def _cell(names: list[str], shape: tuple[int, int]) -> np.ndarray:
    """A MATLAB cell array of strings, as scipy.io.savemat writes it (an object array)."""
    cell = np.empty(len(names), dtype=object)
    cell[:] = names
    return cell.reshape(shape)


def _check_contract(table: pd.DataFrame, name: str) -> None:
    assert list(table.columns) == ["path", "mos", "score", "split", "ref_id", "dataset"]
    assert all(os.path.isabs(p) and os.path.isfile(p) for p in table["path"])
    assert table["mos"].dtype == np.float64 and table["score"].dtype == np.float64
    assert table["score"].between(0.0, 1.0).all()
    assert set(table["split"]) <= {"", "train", "val", "test"}
    assert all(isinstance(v, str) for v in table["ref_id"])
    assert (table["dataset"] == name).all()


# --- KonIQ-10k ---------------------------------------------------------------------------


def _koniq(root: Path, folders=("1024x768", "512x384"), scores=True, sets=True) -> None:
    names = ["3.jpg", "1.jpg", "2.jpg"]
    for folder in folders:
        for n in names:
            _image(root / folder / n)
    counts = {f"c{k}": [1, 2, 3] for k in range(1, 6)}
    if scores:
        pd.DataFrame(
            {
                "image_name": names,
                **counts,
                "c_total": [15, 30, 45],
                "MOS": [4.5, 1.5, 3.0],
                "SD": [0.5, 0.6, 0.7],
                "MOS_zscore": [85.0, 12.0, 50.0],
            }
        ).to_csv(root / "koniq10k_scores_and_distributions.csv", index=False)
    if sets:
        pd.DataFrame(
            {
                "image_name": names,
                **counts,
                "c_total": [15, 30, 45],
                "MOS": [85.0, 12.0, 50.0],
                "SD": [0.5, 0.6, 0.7],
                "set": ["test", "training", "validation"],
            }
        ).to_csv(root / "koniq10k_distributions_sets.csv", index=False)


def test_koniq_uses_the_1_to_5_mos_and_the_official_split(tmp_path):
    _koniq(tmp_path)
    table = load_table("koniq10k", tmp_path)
    _check_contract(table, "koniq10k")
    assert [Path(p).name for p in table["path"]] == ["1.jpg", "2.jpg", "3.jpg"]  # sorted
    assert all(Path(p).parent.name == "1024x768" for p in table["path"])
    assert table["mos"].tolist() == [1.5, 3.0, 4.5]  # MOS, not MOS_zscore
    assert np.allclose(table["score"], (table["mos"] - 1.0) / 4.0)
    assert table["split"].tolist() == ["train", "val", "test"]
    assert (table["ref_id"] == "").all()


def test_koniq_resolution_folder_option_and_fallback(tmp_path):
    _koniq(tmp_path)
    small = load_table("koniq10k", tmp_path, resolution_folder="512x384")
    assert all(Path(p).parent.name == "512x384" for p in small["path"])
    only_small = tmp_path / "only_small"
    _koniq(only_small, folders=("512x384",))
    assert all(Path(p).parent.name == "512x384" for p in load_table("koniq10k", only_small)["path"])


def test_koniq_sets_csv_alone_gives_its_0_to_100_mos(tmp_path):
    _koniq(tmp_path, scores=False)
    table = load_table("koniq10k", tmp_path)
    assert table["mos"].tolist() == [12.0, 50.0, 85.0]
    assert np.allclose(table["score"], table["mos"] / 100.0)
    assert table["split"].tolist() == ["train", "val", "test"]


def test_koniq_without_sets_csv_has_no_split(tmp_path):
    _koniq(tmp_path, sets=False)
    assert (load_table("koniq10k", tmp_path)["split"] == "").all()


def test_koniq_label_outside_documented_range_is_an_error(tmp_path):
    _koniq(tmp_path)
    path = tmp_path / "koniq10k_scores_and_distributions.csv"
    frame = pd.read_csv(path)
    frame.loc[0, "MOS"] = 6.0
    frame.to_csv(path, index=False)
    with pytest.raises(DatasetError, match=r"koniq10k_scores_and_distributions\.csv.*range"):
        load_table("koniq10k", tmp_path)


# --- CLIVE -------------------------------------------------------------------------------


def _clive(root: Path) -> list[str]:
    training = [f"t{k}.bmp" for k in range(1, 8)]
    scored = ["100.bmp", "5.bmp", "50.JPG"]  # deliberately not sorted
    for n in training:
        _image(root / "Images" / "trainingImages" / n)
    for n in scored:
        _image(root / "Images" / n)
    names = training + scored
    (root / "Data").mkdir()
    sio.savemat(
        root / "Data" / "AllImages_release.mat", {"AllImages_release": _cell(names, (10, 1))}
    )
    mos = np.array([[50.0] * 7 + [70.0, 20.0, 45.5]])
    sio.savemat(root / "Data" / "AllMOS_release.mat", {"AllMOS_release": mos})
    return scored


def test_clive_drops_the_first_7_and_keeps_mat_order(tmp_path):
    scored = _clive(tmp_path)
    table = load_table("clive", tmp_path)
    _check_contract(table, "clive")
    assert [Path(p).name for p in table["path"]] == scored
    assert table["mos"].tolist() == [70.0, 20.0, 45.5]
    assert np.allclose(table["score"], table["mos"] / 100.0)
    assert (table["split"] == "").all()


def test_clive_drop_first_option_finds_the_training_images(tmp_path):
    _clive(tmp_path)
    table = load_table("clive", tmp_path, drop_first=0)
    assert len(table) == 10
    assert Path(table["path"][0]).parent.name == "trainingImages"


def test_clive_length_mismatch_names_both_files(tmp_path):
    _clive(tmp_path)
    sio.savemat(tmp_path / "Data" / "AllMOS_release.mat", {"AllMOS_release": np.ones((1, 9))})
    with pytest.raises(DatasetError, match=r"AllImages_release\.mat lists 10.*9 MOS"):
        load_table("clive", tmp_path)


# --- FLIVE -------------------------------------------------------------------------------


def _flive(root: Path, split_files: bool = True) -> None:
    names = ["voc_emotic_ava/b.jpg", "blur_dataset/a.jpg", "EE371R/c.jpg", "AVA__d.jpg"]
    for n in names:
        _image(root / "database" / n)
    pd.DataFrame({"name": names, "mos": [60.5, 72.0, 30.0, 55.0], "height": 8, "width": 8}).to_csv(
        root / "labels_image.csv", index=False
    )
    if split_files:
        pd.DataFrame(
            {"name_image": names[:2], "is_valid": [False, True], "mos_image": [60.5, 72.0]}
        ).to_csv(root / "labels=640_padded.csv", index=False)
        pd.DataFrame({"name_image": [names[2]], "mos_image": [30.0]}).to_csv(
            root / "labels640.csv", index=False
        )


def test_flive_official_split_and_subfolder_names(tmp_path):
    _flive(tmp_path)
    table = load_table("flive", tmp_path)
    _check_contract(table, "flive")
    table = table.set_index("mos")
    assert table.loc[60.5, "split"] == "train"  # is_valid False
    assert table.loc[72.0, "split"] == "val"  # is_valid True
    assert table.loc[30.0, "split"] == "test"  # listed in labels640.csv
    assert table.loc[55.0, "split"] == "train"  # listed in neither
    assert table.loc[60.5, "path"].endswith(os.path.join("database", "voc_emotic_ava", "b.jpg"))
    assert table.loc[72.0, "score"] == pytest.approx(0.72)


def test_flive_without_split_files_has_no_split(tmp_path):
    _flive(tmp_path, split_files=False)
    assert (load_table("flive", tmp_path)["split"] == "").all()


# --- SPAQ --------------------------------------------------------------------------------


def _spaq(root: Path) -> None:
    names = ["00002.jpg", "00001.jpg", "00010.jpg"]
    for n in names:
        _image(root / "TestImage" / n)
    (root / "Annotations").mkdir()
    pd.DataFrame(
        {
            "Image name": names,
            "MOS": [42.0, 80.0, 12.5],
            "Brightness": [50, 60, 70],
            "Colorfulness": [50, 60, 70],
            "Contrast": [50, 60, 70],
            "Noisiness": [50, 60, 70],
            "Sharpness": [50, 60, 70],
        }
    ).to_excel(root / "Annotations" / "MOS and Image attribute scores.xlsx", index=False)


def test_spaq_reads_the_workbook(tmp_path):
    _spaq(tmp_path)
    table = load_table("spaq", tmp_path)
    _check_contract(table, "spaq")
    assert [Path(p).name for p in table["path"]] == ["00001.jpg", "00002.jpg", "00010.jpg"]
    assert table["mos"].tolist() == [80.0, 42.0, 12.5]
    assert np.allclose(table["score"], [0.8, 0.42, 0.125])


def test_spaq_missing_mos_column_lists_what_was_found(tmp_path):
    _spaq(tmp_path)
    path = tmp_path / "Annotations" / "MOS and Image attribute scores.xlsx"
    pd.DataFrame({"Image name": ["00001.jpg"], "Score": [1.0]}).to_excel(path, index=False)
    with pytest.raises(DatasetError, match=r"MOS and Image attribute scores\.xlsx.*'Score'"):
        load_table("spaq", tmp_path)


# --- KADID-10k ---------------------------------------------------------------------------


def _kadid(root: Path) -> None:
    rows = [
        ("I02_01_01.png", "I02.png", 4.6, 0.1),
        ("I01_01_01.png", "I01.png", 4.2, 0.2),
        ("I01_01_05.png", "I01.png", 1.3, 0.3),
    ]
    for dist, ref, _, _ in rows:
        _image(root / "images" / dist)
        _image(root / "images" / ref)
    pd.DataFrame(rows, columns=["dist_img", "ref_img", "dmos", "var"]).to_csv(
        root / "dmos.csv", index=False
    )


def test_kadid_dmos_column_is_a_higher_better_mos(tmp_path):
    _kadid(tmp_path)
    table = load_table("kadid10k", tmp_path)
    _check_contract(table, "kadid10k")
    assert [Path(p).name for p in table["path"]] == [
        "I01_01_01.png",
        "I01_01_05.png",
        "I02_01_01.png",
    ]
    assert table["mos"].tolist() == [4.2, 1.3, 4.6]
    assert np.allclose(table["score"], (table["mos"] - 1.0) / 4.0)  # not flipped
    assert table["ref_id"].tolist() == ["I01", "I01", "I02"]


def test_kadid_missing_label_file_is_named(tmp_path):
    _kadid(tmp_path)
    (tmp_path / "dmos.csv").unlink()
    with pytest.raises(DatasetError, match=r"dmos\.csv"):
        load_table("kadid10k", tmp_path)


def test_kadid_missing_column_lists_found_and_expected(tmp_path):
    _kadid(tmp_path)
    frame = pd.read_csv(tmp_path / "dmos.csv").rename(columns={"dmos": "mos"})
    frame.to_csv(tmp_path / "dmos.csv", index=False)
    with pytest.raises(DatasetError, match=r"dmos\.csv: missing column\(s\) \['dmos'\]") as err:
        load_table("kadid10k", tmp_path)
    assert "'mos'" in str(err.value)  # the columns found are listed


def test_kadid_missing_image_counts_and_names_it(tmp_path):
    _kadid(tmp_path)
    (tmp_path / "images" / "I01_01_05.png").unlink()
    with pytest.raises(DatasetError, match=r"dmos\.csv: 1 of 3 listed image\(s\) are absent"):
        load_table("kadid10k", tmp_path)


# --- AGIQA-3K / AGIQA-1K / AIGCIQA2023 ---------------------------------------------------


def _agiqa3k(root: Path) -> None:
    names = ["midjourney_normal_001.png", "AttnGAN_normal_000.jpg", "sd1.5_lowstep_002.jpg"]
    for n in names:
        _image(root / "file" / n)
    pd.DataFrame(
        {
            "name": names,
            "prompt": ["a cat", "a dog", "a bird"],
            "adj1": ["", "red", ""],
            "adj2": ["", "", ""],
            "style": ["", "", "anime"],
            "mos_quality": [4.5, 0.5, 2.5],
            "std_quality": [0.3, 0.4, 0.5],
            "mos_align": [1.0, 4.0, 3.9],
            "std_align": [0.3, 0.4, 0.5],
        }
    ).to_csv(root / "data.csv", index=False)


def test_agiqa3k_uses_mos_quality_not_mos_align(tmp_path):
    _agiqa3k(tmp_path)
    table = load_table("agiqa3k", tmp_path)
    _check_contract(table, "agiqa3k")
    by_name = dict(zip([Path(p).name for p in table["path"]], table["mos"], strict=True))
    assert by_name == {
        "midjourney_normal_001.png": 4.5,
        "AttnGAN_normal_000.jpg": 0.5,
        "sd1.5_lowstep_002.jpg": 2.5,
    }
    assert np.allclose(table["score"], table["mos"] / 5.0)


def test_agiqa3k_without_mos_quality_is_an_error_even_with_mos_align(tmp_path):
    _agiqa3k(tmp_path)
    frame = pd.read_csv(tmp_path / "data.csv").drop(columns="mos_quality")
    frame.to_csv(tmp_path / "data.csv", index=False)
    with pytest.raises(DatasetError, match=r"data\.csv: missing column\(s\) \['mos_quality'\]"):
        load_table("agiqa3k", tmp_path)


def test_agiqa1k_min_max_normalises_the_z_scores(tmp_path):
    names = ["deepai_0000.png", "dreamstudio_0001.png", "deepai_0002.png"]
    for n in names:
        _image(tmp_path / "file" / n)
    pd.DataFrame({"Image": names, "Prompt": ["a", "b", "c"], "MOS": [-1.2, 0.3, 1.8]}).to_excel(
        tmp_path / "AIGC_MOS_Zscore.xlsx", index=False
    )
    table = load_table("agiqa1k", tmp_path).sort_values("mos")
    _check_contract(table, "agiqa1k")
    assert table["mos"].tolist() == [-1.2, 0.3, 1.8]
    assert np.allclose(table["score"], [0.0, 0.5, 1.0])


def _aigciqa2023(root: Path, n: int = 5) -> None:
    for i in range(n):
        _image(root / "Image" / "allimg" / f"{i}.png")
    (root / "DATA" / "MOS").mkdir(parents=True)
    for k in (1, 2, 3):
        mosz = (np.arange(n, dtype=float) * k + 10.0 * k).reshape(-1, 1)
        sio.savemat(root / "DATA" / "MOS" / f"mosz{k}.mat", {"MOSz": mosz})


@pytest.mark.parametrize(
    "dimension, k", [("quality", 1), ("authenticity", 2), ("correspondence", 3)]
)
def test_aigciqa2023_dimension_picks_its_mat_file(tmp_path, dimension, k):
    _aigciqa2023(tmp_path)
    table = load_table("aigciqa2023", tmp_path, dimension=dimension)
    _check_contract(table, "aigciqa2023")
    by_index = {int(Path(p).stem): m for p, m in zip(table["path"], table["mos"], strict=True)}
    assert by_index == {i: i * k + 10.0 * k for i in range(5)}
    assert table["score"].min() == 0.0 and table["score"].max() == 1.0


def test_aigciqa2023_unknown_dimension(tmp_path):
    _aigciqa2023(tmp_path)
    with pytest.raises(DatasetError, match="dimension must be one of"):
        load_table("aigciqa2023", tmp_path, dimension="aesthetics")


# --- UHD-IQA -----------------------------------------------------------------------------


def _uhdiqa(root: Path, with_set: bool = True) -> None:
    rows = [("1.jpg", "training", 0.7), ("2.jpg", "validation", 0.4), ("3.jpg", "test", 0.55)]
    for name, folder, _ in rows:
        _image(root / folder / name)
    frame = pd.DataFrame(rows, columns=["image_name", "set", "quality_mos"])
    if not with_set:
        frame = frame.drop(columns="set")
    frame.to_csv(root / "uhd-iqa-metadata.csv", index=False)


@pytest.mark.parametrize("with_set", [True, False])
def test_uhdiqa_split_comes_from_the_folder(tmp_path, with_set):
    _uhdiqa(tmp_path, with_set)
    table = load_table("uhdiqa", tmp_path)
    _check_contract(table, "uhdiqa")
    by_name = table.assign(name=[Path(p).name for p in table["path"]]).set_index("name")
    assert by_name["split"].to_dict() == {"1.jpg": "train", "2.jpg": "val", "3.jpg": "test"}
    assert by_name["mos"].to_dict() == {"1.jpg": 0.7, "2.jpg": 0.4, "3.jpg": 0.55}
    assert np.allclose(table["score"], table["mos"])


# --- LIVE --------------------------------------------------------------------------------

LIVE_FOLDERS = (("jp2k", 227), ("jpeg", 233), ("wn", 174), ("gblur", 174), ("fastfading", 174))


def _live(root: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    for folder, count in LIVE_FOLDERS:
        for k in range(1, count + 1):
            _image(root / folder / f"img{k}.bmp")
    n = sum(c for _, c in LIVE_FOLDERS)
    dmos = np.linspace(5.0, 95.0, n)
    orgs = np.zeros(n)
    orgs[[0, 300, 981]] = 1.0  # reference images shown among the distorted ones
    dmos[orgs == 1] = 0.0
    refs = [f"ref{i % 29:02d}.bmp" for i in range(n)]
    sio.savemat(root / "dmos.mat", {"dmos": dmos.reshape(1, -1), "orgs": orgs.reshape(1, -1)})
    sio.savemat(root / "refnames_all.mat", {"refnames_all": _cell(refs, (1, n))})
    return dmos, orgs, refs


def test_live_drops_references_and_flips_dmos(tmp_path):
    dmos, orgs, refs = _live(tmp_path)
    table = load_table("live", tmp_path)
    _check_contract(table, "live")
    assert len(table) == 982 - 3
    kept = dmos[orgs == 0]
    by_path = table.set_index("path")
    first_jpeg = str(tmp_path / "jpeg" / "img1.bmp")  # entry 227 of the release order
    assert by_path.loc[first_jpeg, "mos"] == pytest.approx(dmos[227])
    assert by_path.loc[first_jpeg, "ref_id"] == refs[227][:-4]
    assert str(tmp_path / "jp2k" / "img1.bmp") not in by_path.index  # orgs == 1: dropped
    expected = 1.0 - (table["mos"] - kept.min()) / (kept.max() - kept.min())
    assert np.allclose(table["score"], expected)  # lower DMOS = higher score
    assert table.loc[table["mos"].idxmin(), "score"] == 1.0


# --- CSIQ --------------------------------------------------------------------------------


def _csiq(root: Path) -> None:
    files = [
        ("awgn", "1600.AWGN.1.png"),
        ("jpeg2000", "1600.jpeg2000.3.png"),
        ("blur", "aerial_city.BLUR.2.png"),
        ("jpeg", "aerial_city.JPEG.5.png"),
    ]
    for folder, name in files:
        _image(root / "dst_imgs" / folder / name)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "all_by_image"
    sheet.cell(row=1, column=1, value="CSIQ DMOS (title block above the header, as released)")
    header = ["image", "dst_idx", "dst_type", "dst_lev", "dmos_std", "dmos"]
    rows = [
        [1600, 1, "noise", 1, 0.02, 0.062],
        [1600, 5, "jpeg 2000", 3, 0.03, 0.40],
        ["aerial_city", 6, "blur", 2, 0.04, 0.25],
        ["aerial_city", 2, "jpeg", 5, 0.05, 0.91],
    ]
    for r, values in enumerate([header, *rows]):
        for c, value in enumerate(values):
            sheet.cell(row=4 + r, column=4 + c, value=value)
    book.create_sheet("all_by_distortion")
    book.save(root / "csiq.DMOS.xlsx")


def test_csiq_is_lower_better_with_type_folders_and_mixed_case(tmp_path):
    _csiq(tmp_path)
    table = load_table("csiq", tmp_path)
    _check_contract(table, "csiq")
    by_name = table.assign(name=[Path(p).name for p in table["path"]]).set_index("name")
    assert by_name.loc["1600.AWGN.1.png", "mos"] == pytest.approx(0.062)
    assert by_name.loc["1600.jpeg2000.3.png", "ref_id"] == "1600"
    assert by_name.loc["aerial_city.JPEG.5.png", "ref_id"] == "aerial_city"
    assert np.allclose(table["score"], 1.0 - table["mos"])


def test_csiq_missing_image_is_reported(tmp_path):
    _csiq(tmp_path)
    (tmp_path / "dst_imgs" / "blur" / "aerial_city.BLUR.2.png").unlink()
    with pytest.raises(DatasetError, match=r"csiq\.DMOS\.xlsx: 1 of 4 .*aerial_city\.blur\.2"):
        load_table("csiq", tmp_path)


# --- TID2013 -----------------------------------------------------------------------------


def _tid2013(root: Path) -> None:
    for name in ["i01_01_1.bmp", "I01_01_2.BMP", "i02_17_5.bmp", "I25_24_1.bmp"]:
        _image(root / "distorted_images" / name)
    lines = ["5.51429 i01_01_1.bmp", "5.56757 i01_01_2.bmp", "", "0.24242 i02_17_5.bmp"]
    lines.append("8.9 i25_24_1.bmp")
    (root / "mos_with_names.txt").write_text("\n".join(lines) + "\n")


def test_tid2013_resolves_mixed_file_name_case(tmp_path):
    _tid2013(tmp_path)
    table = load_table("tid2013", tmp_path).sort_values("mos")
    _check_contract(table, "tid2013")
    names = [Path(p).name for p in table["path"]]
    assert names == ["i02_17_5.bmp", "i01_01_1.bmp", "I01_01_2.BMP", "I25_24_1.bmp"]
    assert table["ref_id"].tolist() == ["i02", "i01", "i01", "i25"]
    assert np.allclose(table["score"], table["mos"] / 9.0)


def test_tid2013_malformed_line_is_named(tmp_path):
    _tid2013(tmp_path)
    (tmp_path / "mos_with_names.txt").write_text("5.5 i01_01_1.bmp\nnot-a-number i01_01_2.bmp\n")
    with pytest.raises(DatasetError, match=r"mos_with_names\.txt, line 2"):
        load_table("tid2013", tmp_path)


# --- PIPAL -------------------------------------------------------------------------------


def test_pipal_elo_train_split_and_reference_ids(tmp_path):
    (tmp_path / "Train_Label").mkdir()
    labels = {
        "A0001": [("A0001_00_00.bmp", 1500.0), ("A0001_10_02.bmp", 1210.5)],
        "A0002": [("A0002_01_01.bmp", 1820.0)],
    }
    folders = {"A0001_00_00.bmp": 1, "A0001_10_02.bmp": 2, "A0002_01_01.bmp": 4}
    for ref, pairs in labels.items():
        text = "\n".join(f"{n},{e}" for n, e in pairs)
        (tmp_path / "Train_Label" / f"{ref}.txt").write_text(text + "\n")
        for n, _ in pairs:
            _image(tmp_path / f"Distortion_{folders[n]}" / n)
    _image(tmp_path / "Distortion_3" / "A0003_00_00.bmp")  # an unlabelled file is ignored
    table = load_table("pipal", tmp_path).sort_values("mos")
    _check_contract(table, "pipal")
    assert table["mos"].tolist() == [1210.5, 1500.0, 1820.0]
    assert table["ref_id"].tolist() == ["A0001", "A0001", "A0002"]
    assert (table["split"] == "train").all()
    assert np.allclose(table["score"], (table["mos"] - 1210.5) / (1820.0 - 1210.5))
    assert Path(table["path"].iloc[-1]).parent.name == "Distortion_4"


# --- generic CSV -------------------------------------------------------------------------


def test_csv_adapter_with_all_options(tmp_path):
    for n in ["night/a.jpg", "night/b.png", "c.jpg"]:
        _image(tmp_path / n)
    pd.DataFrame(
        {
            "file": ["night/a.jpg", "night/b.png", "c.jpg"],
            "dmos": [10.0, 60.0, 35.0],
            "content": ["s1", "s1", "s2"],
            "subset": ["train", "test", "val"],
        }
    ).to_csv(tmp_path / "nnid.csv", index=False)
    table = load_table(
        "csv",
        tmp_path,
        csv="nnid.csv",
        path_col="file",
        score_col="dmos",
        lower_better=True,
        range=(0, 100),
        ref_col="content",
        split_col="subset",
    )
    _check_contract(table, "csv")
    assert [Path(p).name for p in table["path"]] == ["c.jpg", "a.jpg", "b.png"]
    assert np.allclose(table["score"], [0.65, 0.9, 0.4])
    assert table["ref_id"].tolist() == ["s2", "s1", "s1"]
    assert table["split"].tolist() == ["val", "train", "test"]


def test_csv_adapter_defaults(tmp_path):
    for n in ["a.png", "b.png", "c.png"]:
        _image(tmp_path / n)
    pd.DataFrame({"path": ["a.png", "b.png", "c.png"], "mos": [2.0, 4.0, 3.0]}).to_csv(
        tmp_path / "labels.csv", index=False
    )
    table = load_table("csv", tmp_path)
    assert np.allclose(table["score"], [0.0, 1.0, 0.5])  # min-max over the data
    assert (table["split"] == "").all() and (table["ref_id"] == "").all()


# --- registry ----------------------------------------------------------------------------


def test_registry_names_and_infos():
    expected = {
        "synthetic",
        "koniq10k",
        "clive",
        "flive",
        "spaq",
        "kadid10k",
        "agiqa3k",
        "agiqa1k",
        "aigciqa2023",
        "uhdiqa",
        "live",
        "csiq",
        "tid2013",
        "pipal",
        "csv",
    }
    assert {n for n, a in datasets.ADAPTERS.items() if a.info.media == "image"} == expected
    infos = datasets.describe_datasets()
    assert [i.name for i in infos] == list(datasets.ADAPTERS)
    assert all(isinstance(i, DatasetInfo) and i.layout for i in infos)
    lower = {i.name for i in infos if i.lower_better}
    assert lower == {"live", "csiq"}
    assert datasets.get_adapter("kadid10k").info.native_range == (1.0, 5.0)


def test_unknown_dataset_option_and_root_are_errors(tmp_path):
    with pytest.raises(DatasetError, match="unknown dataset 'KonIQ'"):
        load_table("KonIQ", tmp_path)
    with pytest.raises(DatasetError, match=r"unknown option\(s\) \['folder'\].*resolution_folder"):
        load_table("koniq10k", tmp_path, folder="x")
    with pytest.raises(DatasetError, match="does not exist"):
        load_table("kadid10k", tmp_path / "missing")
    assert issubclass(DatasetError, ValueError)


def test_parse_spec(tmp_path):
    assert parse_spec(f"kadid10k={tmp_path}") == ("kadid10k", tmp_path)
    with pytest.raises(DatasetError, match="NAME=ROOT"):
        parse_spec("kadid10k")
    with pytest.raises(DatasetError, match="unknown dataset"):
        parse_spec("nope=/data")


@pytest.mark.parametrize("name", sorted(datasets.ADAPTERS))
def test_an_empty_folder_is_an_error_naming_what_was_expected(tmp_path, name):
    with pytest.raises(DatasetError, match=r"expected .*" + str(tmp_path)):
        load_table(name, tmp_path)
