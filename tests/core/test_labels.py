import pytest

from genrobust_fast.errors import InputError
from genrobust_fast.labels import (
    LabelSpace,
    imagenet_label_space,
    imagenet_templates,
    label_space_from_folders,
    named_label_space,
    read_class_map,
    read_label_space_file,
    resolve_label_space,
)


def test_imagenet_order_and_names():
    space = imagenet_label_space()
    assert len(space) == 1000
    assert space.ids[0] == "n01440764" and space.names[0] == "tench"
    assert space.index("n02123045") == 281 and space.name_of("n02123045") == "tabby cat"
    assert space.ids[999] == "n15075141"


@pytest.mark.parametrize("name,count", [("imagenet100", 100), ("imagenet-r", 200), ("imagenet_a", 200)])
def test_subsets_keep_imagenet_order(name, count):
    space = named_label_space(name)
    full = imagenet_label_space()
    positions = [full.index(c) for c in space.ids]
    assert len(space) == count and positions == sorted(positions)


def test_templates():
    templates = imagenet_templates()
    assert len(templates) == 80
    assert all(t.count("{}") == 1 for t in templates)
    assert templates[0].format("tench") == "a bad photo of a tench."


def test_class_file_and_folders(tmp_path):
    f = tmp_path / "classes.tsv"
    f.write_text("# my classes\nn01440764\ttench\nshoe\n")
    space = read_label_space_file(f)
    assert space.ids == ("n01440764", "shoe") and space.names == ("tench", "shoe")
    for cls in ("b_cls", "a_cls", "_meta", ".hidden"):
        (tmp_path / "tree" / cls).mkdir(parents=True)
    assert resolve_label_space(str(tmp_path / "tree")).ids == ("a_cls", "b_cls")
    assert label_space_from_folders(tmp_path / "tree").names == ("a cls", "b cls")


def test_bad_inputs(tmp_path):
    with pytest.raises(InputError, match="unique"):
        LabelSpace.from_ids(["a", "a"])
    with pytest.raises(InputError, match="not in this label space"):
        imagenet_label_space().index("n00000000")
    with pytest.raises(InputError, match="unknown class set"):
        named_label_space("imagenet-9000")
    with pytest.raises(InputError, match="does not exist"):
        resolve_label_space(str(tmp_path / "missing.tsv"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no class folders"):
        label_space_from_folders(tmp_path / "empty")


def test_class_file_line_without_a_tab_is_an_error_naming_file_and_line(tmp_path):
    from click.testing import CliRunner

    from genrobust_fast.cli.main import cli

    f = tmp_path / "classes.tsv"
    f.write_text("n01440764\ttench\nthis line is malformed\n")
    with pytest.raises(
        InputError, match=r"classes.tsv:2: 'this line is malformed' is not 'class_id<TAB>name'"
    ):
        read_label_space_file(f)
    # Through the CLI: a plan must not be made with a class called "this line is malformed".
    result = CliRunner().invoke(
        cli, ["generate", "--model", "tiny", "--classes", str(f), "--dry-run", "--out", str(tmp_path / "gen")]
    )
    assert result.exit_code == 1, result.output
    assert f"{f}:2:" in result.output and "class_id<TAB>name" in result.output
    assert "Traceback" not in result.output
    # An id alone (no name) stays valid, and so does a tab-separated name with spaces.
    f.write_text("shoe\nn01440764\ttench fish\n")
    assert read_label_space_file(f).names == ("shoe", "tench fish")
    (tmp_path / "leading_tab.tsv").write_text("\ttench\n")
    with pytest.raises(InputError, match="empty class id"):
        read_label_space_file(tmp_path / "leading_tab.tsv")


def test_class_map_from_json_or_tab_separated_lines(tmp_path):
    as_json = tmp_path / "map.json"
    as_json.write_text('{"dogs": "n02084071", "7": 7}')
    assert read_class_map(as_json) == {"dogs": "n02084071", "7": "7"}
    as_tsv = tmp_path / "map.tsv"
    as_tsv.write_text("# folder<TAB>class id\ndogs\tn02084071\n\n cats \t n02121808 \n")
    assert read_class_map(str(as_tsv)) == {"dogs": "n02084071", "cats": "n02121808"}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "map.tsv",
            "dogs n02084071\n",
            r"map.tsv: expected 'folder<TAB>class_id' lines, got \['dogs n02084071'\]",
        ),
        ("map.json", "{dogs: 1}", r"class map .*map.json' is not valid JSON"),
        ("map.json", '["dogs"]', r"class map .*map.json' holds a JSON list, not an object"),
        ("missing.tsv", None, r"class map .*missing.tsv' cannot be read"),
    ],
)
def test_a_bad_class_map_is_one_input_error_naming_the_file(tmp_path, name, text, message):
    if text is not None:
        (tmp_path / name).write_text(text)
    with pytest.raises(InputError, match=message):
        read_class_map(tmp_path / name)
