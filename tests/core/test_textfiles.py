"""User text files (issue 28): templates that would fail or mislead when filled, and files that are not
UTF-8, are refused when read, naming the file and line."""

import pytest
from click.testing import CliRunner

from genrobust_fast.cli.main import cli
from genrobust_fast.errors import ConfigError, InputError
from genrobust_fast.finetune.config import FinetuneConfig
from genrobust_fast.labels import read_class_map, read_label_space_file
from genrobust_fast.textfiles import check_template, read_lines

BAD_TEMPLATES = {
    "{x}": "has {x}",  # KeyError when filled
    "a {} {0}": "has {}, {0}",  # ValueError: automatic and manual numbering
    "{:>5}": "has {:>5}",  # pads every class name
    "a {!r}": "has {!r}",  # quotes it
    "a {{}}": "has no field",  # a literal "{}": every prompt the same
    "a {} and {}": "has {}, {}",  # IndexError
    "a {": "is not a template (Single '{' encountered",
}


@pytest.mark.parametrize("template", BAD_TEMPLATES)
def test_a_template_that_cannot_take_the_class_name_is_refused_naming_file_and_line(tmp_path, template):
    path = tmp_path / "templates.txt"
    path.write_text(f"# renditions\na sketch of a {{}}\n{template}\n")
    args = ["generate", "--classes", "imagenet100", "--strategy", "templates", "--templates", str(path)]
    result = CliRunner().invoke(cli, [*args, "--dry-run", "--out", str(tmp_path / "g")])
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert f"InputError: {path}:3: {template!r} {BAD_TEMPLATES[template]}" in result.output, result.output
    assert "exactly one '{}'" in result.output and not (tmp_path / "g").exists()


@pytest.mark.parametrize("template", BAD_TEMPLATES)
def test_a_bad_caption_template_is_refused_by_the_finetune_config(template):
    with pytest.raises(ConfigError, match="caption template: .* exactly one '{}'"):
        FinetuneConfig(templates=("a photo of a {}", template))


@pytest.mark.parametrize("template", ["a photo of a {}", "{}", "a {{curly}} {}", "{} 100%"])
def test_good_templates_pass(template):
    assert check_template(template, "t").format("cat") == template.replace("{{", "{").replace(
        "}}", "}"
    ).replace("{}", "cat", 1)


def _class_file(path):
    return read_label_space_file(path)


def _prompt_file(path):
    from genrobust_fast.generation.worklist import read_prompt_file

    return read_prompt_file(path)


def _template_file(path):
    from genrobust_fast.generation.worklist import read_template_file

    return read_template_file(path)


READERS = {
    "class file": _class_file,
    "prompt file": _prompt_file,
    "template file": _template_file,
    "class map": read_class_map,
}


@pytest.mark.parametrize("what", READERS)
def test_a_file_that_is_not_utf8_is_refused_naming_line_and_column(tmp_path, what):
    path = tmp_path / "input.txt"
    path.write_bytes(b"n01440764\ta {}\n" + b"n01443537\ta goldfish {}\n" + "n\u00e9\t{}\n".encode("latin-1"))
    with pytest.raises(
        InputError, match=rf"input\.txt:3: the {what} is not UTF-8 text \(byte 0xe9 at column 2\)"
    ):
        READERS[what](path)


def test_a_utf8_bom_does_not_stick_to_the_first_class_id(tmp_path):
    path = tmp_path / "classes.tsv"
    path.write_bytes(b"\xef\xbb\xbfn01440764\ttench\nn01443537\tgoldfish\n")
    assert read_label_space_file(path).ids == ("n01440764", "n01443537")
    assert read_lines(path, "class file")[0] == "n01440764\ttench"
