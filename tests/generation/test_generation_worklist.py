"""Work-list plans: pure index arithmetic, disjoint shards whose union is the job, stable seeds, bad input."""

import pytest

from genrobust_fast.errors import ConfigError, DatasetError, InputError
from genrobust_fast.generation.config import GenerateConfig, job_id
from genrobust_fast.generation.worklist import build_plan, derive_seed, read_prompt_file


def _cfg(**kw):
    return GenerateConfig(
        **{"model": "tiny", "classes": "imagenet100", "per_class": 3, "out": "unused", **kw}
    )


@pytest.mark.parametrize("num_shards", [1, 4, 7, 300, 301])
def test_shards_are_disjoint_and_cover_the_job(num_shards):
    plan = build_plan(_cfg(), num_shards)
    seen = [it.stem for k in range(num_shards) for it in plan.shard_items(k)]
    assert len(seen) == len(set(seen)) == plan.total == 300
    assert sum(plan.shard_size(k) for k in range(num_shards)) == 300
    assert {it.stem for it in (plan.item_at(p) for p in range(300))} == set(seen)


def test_items_and_seeds_do_not_depend_on_shard_count():
    a, b = build_plan(_cfg(), 1), build_plan(_cfg(), 7)
    items_a = {it.stem: it for it in a.shard_items(0)}
    for k in range(7):
        for it in b.shard_items(k):
            other = items_a[it.stem]
            assert (it.seed, it.prompt, it.class_id) == (other.seed, other.prompt, other.class_id)
    first = a.item_at(0)
    assert (
        first.prompt == f"a photo of a {first.class_name}" and first.stem == f"{a.label_space.ids[0]}_0000000"
    )
    assert derive_seed(0, "n01440764", 0) != derive_seed(1, "n01440764", 0) != derive_seed(0, "n01440764", 1)


def test_resuming_from_a_start_offset_continues_the_same_sequence():
    plan = build_plan(_cfg(), 3)
    full = [it.stem for it in plan.shard_items(1)]
    assert [it.stem for it in plan.shard_items(1, start=40)] == full[40:]


def test_templates_are_chosen_by_seed():
    plan = build_plan(_cfg(strategy="templates", per_class=20), 1)
    items = list(plan.shard_items(0))[:20]
    assert all(it.template_id == it.seed % 80 for it in items)
    assert len({it.template_id for it in items}) > 5
    assert all(plan.templates[it.template_id].format(it.class_name) == it.prompt for it in items)


def test_a_template_file_replaces_the_clip_templates(tmp_path):
    path = tmp_path / "templates.txt"
    path.write_text("# renditions\na sketch of a {}.\n\na blurry photo of the {}.\n")
    plan = build_plan(_cfg(strategy="templates", templates=str(path), per_class=20), 1)
    assert plan.templates == ("a sketch of a {}.", "a blurry photo of the {}.")
    prompts = {it.prompt for it in list(plan.shard_items(0))[:20]}
    name = plan.item_at(0).class_name
    assert prompts == {f"a sketch of a {name}.", f"a blurry photo of the {name}."}


@pytest.mark.parametrize(
    ("text", "message"),
    [("a sketch of a cat\n", "exactly one '{}'"), ("# only a comment\n", "holds no templates")],
)
def test_a_bad_template_file_is_one_clear_error(tmp_path, text, message):
    path = tmp_path / "templates.txt"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        build_plan(_cfg(strategy="templates", templates=str(path)), 1)
    with pytest.raises(ConfigError, match="--templates is read by strategy 'templates' only"):
        _cfg(templates=str(path))


def test_imagenet_scale_plan_is_arithmetic():
    plan = build_plan(_cfg(classes="imagenet", per_class=1300))
    assert plan.total == 1_300_000 and plan.num_shards == 130
    last = plan.item_at(plan.total - 1)
    assert (last.class_id, last.index) == ("n15075141", 1299)
    assert plan.position_of("n15075141", 1299) == plan.total - 1
    assert plan.shard_of(plan.total - 1) == (plan.total - 1) % 130


def test_prompt_file_cycles_per_class(tmp_path):
    f = tmp_path / "p.tsv"
    f.write_text(
        "n01440764\ta tench in a net\nn01440764\ta tench underwater\n"
        '{"class_id": "n01443537", "prompt": "a goldfish bowl"}\n'
    )
    classes = tmp_path / "c.tsv"
    classes.write_text("n01440764\ttench\nn01443537\tgoldfish\n")
    plan = build_plan(_cfg(strategy="prompts", prompts=str(f), classes=str(classes)), 1)
    items = list(plan.shard_items(0))
    assert [it.prompt for it in items] == ["a tench in a net", "a tench underwater", "a tench in a net"] + [
        "a goldfish bowl"
    ] * 3
    assert [it.prompt_id for it in items[:3]] == [0, 1, 0]


def test_real_images_key_the_items(real_dir):
    plan = build_plan(_cfg(strategy="img2img", real=str(real_dir), per_real=2, classes=None), 1)
    assert plan.label_space.ids == ("n01440764", "n01443537") and plan.total == 10
    items = list(plan.shard_items(0))
    assert [it.source_image for it in items[:4]] == ["n01440764/img_0.png"] * 2 + ["n01440764/img_1.png"] * 2
    assert items[4].source_image == "n01443537/img_0.png" and items[4].index == 0


def test_job_id_ignores_speed_settings_but_not_work():
    assert job_id(_cfg(batch_size=1, backend="torch", shard="0/2")) == job_id(_cfg(batch_size=8))
    assert job_id(_cfg(seed=1)) != job_id(_cfg()) != job_id(_cfg(steps=3))


def test_bad_inputs_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="--real"):
        _cfg(strategy="variation")
    with pytest.raises(ConfigError, match="--prompts"):
        _cfg(strategy="prompts")
    with pytest.raises(ConfigError, match="K/N"):
        _cfg(shard="3")
    with pytest.raises(ConfigError, match="out of range"):
        _cfg(shard="2/2")
    with pytest.raises(InputError, match="unknown class set|does not exist"):
        build_plan(_cfg(classes="imagenet2k"))
    (tmp_path / "empty").mkdir()
    with pytest.raises((InputError, DatasetError), match="no class folders|no readable images"):
        build_plan(_cfg(strategy="img2img", real=str(tmp_path / "empty"), classes=None))
    (tmp_path / "empty" / "n01440764").mkdir()
    with pytest.raises(InputError, match="no readable images for 1 of the 1"):
        build_plan(_cfg(strategy="img2img", real=str(tmp_path / "empty"), classes=None))
    with pytest.raises(InputError, match="not a folder"):
        build_plan(_cfg(strategy="img2img", real=str(tmp_path / "missing")))
    classes = tmp_path / "c.tsv"
    classes.write_text("n01440764\ttench\n")
    prompts = tmp_path / "p.tsv"
    prompts.write_text("n01440764\ta tench\nn99999999\ta typo\n")
    with pytest.raises(InputError, match="n99999999"):
        build_plan(_cfg(strategy="prompts", prompts=str(prompts), classes=str(classes)))
    bad = tmp_path / "bad.tsv"
    bad.write_text("no tab here\n")
    with pytest.raises(InputError, match="class_id<TAB>prompt"):
        read_prompt_file(bad)


def test_an_edited_template_file_is_another_job(tmp_path):
    from genrobust_fast.generation.job import _identity_extra

    path = tmp_path / "templates.txt"
    path.write_text("a sketch of a {}.\n")
    cfg = _cfg(strategy="templates", templates=str(path))
    before = job_id(cfg, _identity_extra(cfg, build_plan(cfg, 1)))
    path.write_text("a drawing of a {}.\n")
    assert job_id(cfg, _identity_extra(cfg, build_plan(cfg, 1))) != before
