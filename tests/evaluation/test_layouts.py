import json

import numpy as np
import pytest

from genrobust_fast.errors import DatasetError, InputError
from genrobust_fast.evaluation import get_benchmark, parse_benchmark_arg, verify_benchmark
from genrobust_fast.evaluation.layouts import read_benchmark
from genrobust_fast.labels import LabelSpace, imagenet_label_space, named_label_space

from .trees import generated_tree, noise_image, objectnet_tree, save, v2_tree, wnid_tree


def test_v2_numbered_folders_map_by_class_index_not_string_order(tmp_path):
    space = imagenet_label_space()
    picks = [space.ids[i] for i in (2, 10, 100, 5)]  # string order would be 10, 100, 2, 5
    v2_tree(tmp_path / "v2", {wnid: [noise_image(i)] for i, wnid in enumerate(picks)})
    data = read_benchmark(get_benchmark("imagenet-v2"), tmp_path / "v2")
    by_folder = {p.split("/")[-2]: data.classes.ids[t] for p, t in zip(data.paths, data.targets)}
    assert by_folder == {"2": space.ids[2], "10": space.ids[10], "100": space.ids[100], "5": space.ids[5]}


def test_v2_rejects_wnid_folders(tmp_path):
    wnid_tree(tmp_path / "v2", {"n01440764": [noise_image(0)]})
    with pytest.raises(DatasetError, match="class index"):
        read_benchmark(get_benchmark("imagenet-v2"), tmp_path / "v2")


def test_imagenet_r_200_classes_renditions_and_partial_download(tmp_path):
    r = named_label_space("imagenet_r")
    wnid_tree(
        tmp_path / "r",
        {r.ids[0]: [noise_image(0), noise_image(1)], r.ids[199]: [noise_image(2)]},
        ext="jpg",
        prefix="cartoon",
    )
    save(noise_image(3), tmp_path / "r" / r.ids[0] / "art_7.jpg")
    data = read_benchmark(get_benchmark("imagenet-r"), tmp_path / "r")
    assert len(data.classes) == 200 and sorted(set(data.groups)) == ["art", "cartoon"]
    assert data.classes.ids[data.targets[0]] == r.ids[0]
    # A partial download is an error before any run, unless forced.
    with pytest.raises(DatasetError, match="partial.*--force"):
        verify_benchmark("imagenet-r", tmp_path / "r")
    report = verify_benchmark("imagenet-r", tmp_path / "r", force=True)
    assert report["complete"] is False and report["images"] == 4 and report["classes_present"] == 2
    assert any("198 of 200" in p for p in report["problems"])


def test_imagenet_a_rejects_a_folder_outside_its_200_classes(tmp_path):
    outside = next(w for w in imagenet_label_space().ids if w not in named_label_space("imagenet_a"))
    wnid_tree(tmp_path / "a", {outside: [noise_image(0)]})
    with pytest.raises(DatasetError, match="not one of its 200 classes"):
        read_benchmark(get_benchmark("imagenet-a"), tmp_path / "a")


def test_file_list_hash_is_stable_and_sees_changes(tmp_path):
    r = named_label_space("imagenet_r")
    wnid_tree(tmp_path / "r", {r.ids[3]: [noise_image(0)]})
    first = verify_benchmark("imagenet-r", tmp_path / "r", force=True)["file_list_sha256"]
    assert verify_benchmark("imagenet-r", tmp_path / "r", force=True)["file_list_sha256"] == first
    save(noise_image(9), tmp_path / "r" / r.ids[3] / "img_1.JPEG")
    assert verify_benchmark("imagenet-r", tmp_path / "r", force=True)["file_list_sha256"] != first


def test_objectnet_mapping_through_pytorch_index_and_2012_lines(tmp_path):
    objectnet_tree(
        tmp_path, {"mug": [noise_image(0)], "alarm_clock": [noise_image(1)]}, unmapped={"squeegee": 2}
    )
    data = read_benchmark(get_benchmark("objectnet"), tmp_path)
    members = dict(zip(data.classes.ids, data.members))
    assert members["alarm_clock"] == ("n02708093", "n03196217")  # "analog clock; digital clock"
    assert members["mug"] == ("n03063599",)
    assert members["still_camera"] == ("n03976467", "n04069434")
    assert len(data) == 2 and len(data.files) == 4  # unmapped folders are hashed but not scored
    assert any("drinking_cup" in p for p in data.problems)


def test_objectnet_missing_mappings_is_a_clear_error(tmp_path):
    (tmp_path / "images").mkdir()
    with pytest.raises(DatasetError, match="mappings"):
        read_benchmark(get_benchmark("objectnet"), tmp_path)


def test_flat_val_with_kaggle_solution_csv(tmp_path):
    val = tmp_path / "val"
    save(noise_image(0), val / "ILSVRC2012_val_00000001.JPEG")
    save(noise_image(1), val / "ILSVRC2012_val_00000002.JPEG")
    (tmp_path / "LOC_val_solution.csv").write_text(
        "ImageId,PredictionString\nILSVRC2012_val_00000001,n01751748 1 2 3 4 n01751748 5 6 7 8\n"
        "ILSVRC2012_val_00000002,n09193705 1 2 3 4\n"
    )
    data = read_benchmark(get_benchmark("imagenet-val"), val)
    assert [data.classes.ids[t] for t in data.targets] == ["n01751748", "n09193705"]


def test_flat_val_with_devkit_meta_mat(tmp_path):
    import scipy.io

    val = tmp_path / "val"
    for i in range(3):
        save(noise_image(i), val / f"ILSVRC2012_val_{i + 1:08d}.JPEG")
    data_dir = tmp_path / "ILSVRC2012_devkit_t12" / "data"
    data_dir.mkdir(parents=True)
    # Devkit ids are not PyTorch indices: id 1 is n02119789 (kit fox); id 1001 is an inner node.
    dtype = [("ILSVRC2012_ID", "O"), ("WNID", "O"), ("words", "O"), ("num_children", "O")]
    synsets = np.array(
        [
            (1, "n02119789", "kit fox", 0),
            (2, "n02100735", "English setter", 0),
            (1001, "n00001740", "entity", 2),
        ],
        dtype=dtype,
    )
    scipy.io.savemat(data_dir / "meta.mat", {"synsets": synsets})
    (data_dir / "ILSVRC2012_validation_ground_truth.txt").write_text("2\n1\n2\n")
    data = read_benchmark(get_benchmark("imagenet-val"), val)
    assert [data.classes.ids[t] for t in data.targets] == ["n02100735", "n02119789", "n02100735"]


def test_flat_val_without_ground_truth_says_what_to_add(tmp_path):
    save(noise_image(0), tmp_path / "val" / "ILSVRC2012_val_00000001.JPEG")
    with pytest.raises(DatasetError, match="LOC_val_solution.csv"):
        read_benchmark(get_benchmark("imagenet-val"), tmp_path / "val")


def test_imagenet_c_tree_groups_by_corruption_and_severity(tmp_path):
    for corruption in ("fog", "snow"):
        for severity in ("1", "5"):
            wnid_tree(tmp_path / "c" / corruption / severity, {"n01440764": [noise_image(0)]})
    data = read_benchmark(get_benchmark("imagenet-c"), tmp_path / "c")
    assert sorted(set(data.groups)) == ["fog/1", "fog/5", "snow/1", "snow/5"]
    assert any("gaussian_noise" in p for p in data.problems)


def test_generated_sets_imagefolder_and_webdataset(tmp_path):
    space = LabelSpace.from_ids(["n01440764", "n01443537"], ["tench", "goldfish"])
    images = {"n01443537": [noise_image(0), noise_image(1)], "n01440764": [noise_image(2)]}
    for fmt in ("imagefolder", "webdataset"):
        root = generated_tree(tmp_path / fmt, space, images, fmt=fmt)
        data = read_benchmark(get_benchmark("generated"), root)
        assert sorted(data.classes.ids[t] for t in data.targets) == ["n01440764", "n01443537", "n01443537"]
        assert not data.problems, data.problems
    unfinished = generated_tree(tmp_path / "partial", space, images, done_shards=1, num_shards=2)
    with pytest.raises(DatasetError, match="1 of 2 shards"):
        verify_benchmark("generated", unfinished)


def test_custom_folder_benchmark_with_class_map(tmp_path):
    wnid_tree(tmp_path / "f", {"zero": [noise_image(0)], "one": [noise_image(1)]})
    spec, root = parse_benchmark_arg(f"folder:fmnist-blur={tmp_path / 'f'}")
    assert spec.name == "fmnist-blur" and spec.layout == "folder"
    data = read_benchmark(spec, root, class_map={"zero": "0", "one": "1"})
    assert data.classes.ids == ("0", "1")
    assert sorted(zip([p.split("/")[-2] for p in data.paths], data.targets)) == [("one", 1), ("zero", 0)]


def test_unknown_benchmark_and_bad_argument_are_clear(tmp_path):
    with pytest.raises(InputError, match="folder:mine=DIR"):
        parse_benchmark_arg("mine=/x")
    with pytest.raises(InputError, match="NAME=DIR"):
        parse_benchmark_arg("imagenet-r")
    assert json.dumps(verify_benchmark("folder", wnid_tree(tmp_path / "x", {"cat": [noise_image(0)]})))


def test_data_verify_cli_fails_on_partial_and_reports_when_forced(tmp_path):
    from click.testing import CliRunner

    from genrobust_fast.cli.main import cli

    r = named_label_space("imagenet_r")
    wnid_tree(tmp_path / "r", {r.ids[0]: [noise_image(0)], r.ids[1]: [noise_image(1)]})
    failed = CliRunner().invoke(cli, ["data", "verify", "--benchmark", "imagenet-r", str(tmp_path / "r")])
    assert failed.exit_code == 1 and "--force" in failed.output and "Traceback" not in failed.output
    forced = CliRunner().invoke(
        cli, ["data", "verify", "--benchmark", "imagenet-r", str(tmp_path / "r"), "--force", "--json"]
    )
    assert forced.exit_code == 0, forced.output
    report = json.loads(forced.stdout)
    assert (report["images"], report["classes_present"], report["complete"]) == (2, 2, False)
    assert (
        report["file_list_sha256"]
        == verify_benchmark("imagenet-r", tmp_path / "r", force=True)["file_list_sha256"]
    )
