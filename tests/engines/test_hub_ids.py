"""Hub ids as --model, offline: the tiny model saved into a hand-made HF cache (tests/engines/hf_cache.py)
and resolved by the real huggingface_hub `snapshot_download`, then loaded, exported, generated from and
finetuned from, with the id, commit and weights hash recorded; missing ids and revisions are clear errors.

The cache holds `owner/tiny-sd` at three commits: C1 (main; fp32 and fp16-variant weights), C2 (tag v2;
another UNet) and C3 (no ref; C1's files plus a README: equal weights, another commit)."""

import json
import shutil

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file, save_file

from genrobust_fast.cli.main import cli
from genrobust_fast.engines.models import load_components, save_components
from genrobust_fast.engines.specs import Precision
from genrobust_fast.errors import EngineMismatchError, InputError, JobConflictError
from tests.engines.hf_cache import add_snapshot, fake_commit

REPO = "owner/tiny-sd"
C1, C2, C3 = fake_commit("c1"), fake_commit("c2"), fake_commit("c3")


@pytest.fixture(scope="module")
def hub_cache(tmp_path_factory):
    """(cache folder, {commit: the local folder its files came from})."""
    from diffusers import StableDiffusionPipeline

    work = tmp_path_factory.mktemp("hub-src")
    cache = tmp_path_factory.mktemp("hf-cache")
    comps = load_components("tiny")
    first = save_components(comps, work / "c1")
    # An fp16 variant beside the fp32 files, as SD repos ship: *.fp16.safetensors holding fp16 tensors
    # (only those files: the configs stay the fp32 save's, as on the Hub).
    for module in comps.modules().values():
        module.to(torch.float16)
    parts = {k: getattr(comps, k) for k in ("vae", "text_encoder", "tokenizer", "unet", "scheduler")}
    StableDiffusionPipeline(
        **parts, safety_checker=None, feature_extractor=None, requires_safety_checker=False
    ).save_pretrained(work / "fp16", safe_serialization=True, variant="fp16")
    comps.image_encoder.save_pretrained(work / "fp16" / "image_encoder", variant="fp16")
    for weights in (work / "fp16").rglob("*.fp16.safetensors"):
        shutil.copy(weights, first / weights.relative_to(work / "fp16"))
    second = save_components(load_components(first), work / "c2")
    unet_file = second / "unet" / "diffusion_pytorch_model.safetensors"
    state = load_file(unet_file)
    save_file({k: v + 0.01 if v.is_floating_point() else v for k, v in state.items()}, unet_file)
    third = work / "c3"
    shutil.copytree(first, third)
    (third / "README.md").write_text("a model card edit: same weights, new commit\n")
    add_snapshot(cache, REPO, first, C1, refs=("main",))
    add_snapshot(cache, REPO, second, C2, refs=("v2",))
    add_snapshot(cache, REPO, third, C3)
    return cache, {C1: first, C2: second, C3: third}


@pytest.fixture
def hf_env(hub_cache, monkeypatch):
    """HF_HUB_CACHE pointed at the test cache, for new processes (the variable) and this one (the
    constant huggingface_hub read from it at import); offline, as the whole suite is."""
    from huggingface_hub import constants

    cache, folders = hub_cache
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache, folders


@pytest.fixture(scope="module")
def from_hub(hub_cache):
    """load(revision=None, variant=None): components of REPO loaded through the cache (memoised)."""
    from huggingface_hub import constants

    loaded = {}

    def load(revision=None, variant=None):
        if (revision, variant) not in loaded:
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(constants, "HF_HUB_CACHE", str(hub_cache[0]))
                loaded[revision, variant] = load_components(REPO, revision=revision, variant=variant)
        return loaded[revision, variant]

    return load


def test_the_cache_is_huggingface_hubs_own_layout(hf_env):
    from huggingface_hub import scan_cache_dir

    cache, _ = hf_env
    (repo,) = scan_cache_dir(cache).repos
    assert repo.repo_id == REPO
    assert {r.commit_hash for r in repo.revisions} == {C1, C2, C3}
    assert {ref: r.commit_hash for ref, r in repo.refs.items()} == {"main": C1, "v2": C2}


def test_a_hub_id_loads_the_cached_snapshot_and_records_id_and_commit(hf_env, from_hub):
    cache, folders = hf_env
    comps = from_hub()
    assert comps.model_id == REPO and comps.revision == C1
    assert comps.source.folder == cache / "models--owner--tiny-sd" / "snapshots" / C1
    assert comps.source.provenance() == {"hub_id": REPO, "revision": None, "commit": C1, "variant": None}
    # The weights are the cached files' (loaded from the local folder they were made from: same hash).
    assert comps.weights_hash() == load_components(folders[C1]).weights_hash()


def test_a_revision_picks_the_other_commits_weights(from_hub):
    main, v2 = from_hub(), from_hub("v2")
    assert v2.revision == C2 and v2.source.revision == "v2"
    assert v2.module_hash("unet") != main.module_hash("unet")
    assert v2.module_hash("vae") == main.module_hash("vae")  # only the UNet changed between the commits
    by_hash = from_hub(C2)  # a full commit hash names the same snapshot
    assert by_hash.revision == C2 and by_hash.weights_hash() == v2.weights_hash()


def test_the_engine_key_follows_the_commit_even_with_equal_weights(from_hub):
    from genrobust_fast.engines.onnx_build import onnx_key
    from genrobust_fast.engines.specs import Precision

    c1, c3, v2 = from_hub(), from_hub(C3), from_hub("v2")
    assert c3.weights_hash() == c1.weights_hash()
    k1, k3 = (onnx_key(c, "unet", Precision.FP32) for c in (c1, c3))
    assert k1.model_revision == C1 and k3.model_revision == C3
    assert [d.split(":")[0] for d in k1.differences(k3)] == ["model_revision"]
    assert k1.digest() != k3.digest()
    k2 = onnx_key(v2, "unet", Precision.FP32)
    assert {d.split(":")[0] for d in k1.differences(k2)} == {"weights_sha256", "model_revision"}


def test_engine_build_from_a_hub_id_and_a_job_that_runs_its_engines(hf_env, from_hub, tmp_path):
    engines = tmp_path / "engines"
    built = CliRunner().invoke(
        cli, ["engine", "build", "--model", REPO, "--backend", "onnxruntime", "--engine-dir", str(engines)]
    )
    assert built.exit_code == 0, built.output
    sidecar = json.loads((engines / "hub--owner--tiny-sd" / "onnx-fp32" / "unet.json").read_text())
    comps = from_hub()
    assert sidecar["model"] == sidecar["model_id"] == REPO
    assert sidecar["key"]["model_revision"] == C1
    assert sidecar["key"]["weights_sha256"] == comps.module_hash("unet")
    assert f"--model {REPO} --revision {C1} " in sidecar["build_command"]

    classes = tmp_path / "classes.tsv"
    classes.write_text("n01440764\ttench\n")
    out = tmp_path / "gen"
    args = ["generate", "--model", REPO, "--classes", str(classes), "--per-class", "2", "--steps", "2"]
    args += ["--backend", "onnxruntime", "--engine-dir", str(engines), "--out", str(out), "--no-progress"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model_source"] == {"hub_id": REPO, "revision": None, "commit": C1, "variant": None}
    assert manifest["weights_hash"] == comps.weights_hash()
    records = [json.loads(line) for line in next((out / "_meta").glob("*.jsonl")).read_text().splitlines()]
    assert len(records) == 2
    assert {(r["model_id"], r["model_revision"], r["weights_hash"], r["backend"]) for r in records} == {
        (REPO, C1, comps.weights_hash(), "onnxruntime")
    }

    # Another commit: its engines are not these (the rebuild line pins the commit) ...
    stale = CliRunner().invoke(
        cli, [*args[:3], "--revision", "v2", *args[3:-3], "--out", str(tmp_path / "g2")]
    )
    assert stale.exit_code != 0 and f"--revision {C2}" in stale.output, stale.output
    # ... and the job made from C1 is not resumed from it (on torch, which needs no engine).
    resumed = CliRunner().invoke(cli, [*args[:3], "--revision", "v2", *args[3:], "--backend", "torch"])
    assert resumed.exit_code != 0 and f"--revision {C1} to resume" in resumed.output, resumed.output
    advised = CliRunner().invoke(cli, [*args[:3], "--revision", C1, *args[3:]])  # the advice resumes it
    assert advised.exit_code == 0 and "generated 0 image(s)" in advised.output, advised.output


def test_an_engine_of_one_commit_is_refused_for_another_naming_the_rebuild(hf_env, from_hub, tmp_path):
    from genrobust_fast.engines.onnx_build import ensure_onnx

    ensure_onnx(from_hub(), "vae_decoder", Precision.FP32, tmp_path, build=True)
    with pytest.raises(EngineMismatchError, match=f"model_revision.*--model {REPO} --revision {C3} "):
        ensure_onnx(from_hub(C3), "vae_decoder", Precision.FP32, tmp_path)  # equal weights, another commit


def test_a_variant_loads_its_own_weight_files(hf_env, from_hub):
    from genrobust_fast.engines.cache import model_options

    cache, _ = hf_env
    fp16 = from_hub(variant="fp16")
    snapshot = cache / "models--owner--tiny-sd" / "snapshots" / C1
    stored = load_file(snapshot / "unet" / "diffusion_pytorch_model.fp16.safetensors")
    assert stored["conv_in.weight"].dtype == torch.float16
    for name, tensor in fp16.unet.state_dict().items():
        assert torch.equal(tensor.to(torch.float16), stored[name]), name
    # Every module loads in fp32 as diffusers loads the UNet (transformers alone would keep the files'
    # fp16); the runner casts to the job's precision.
    for module in ("unet", "vae", "text_encoder", "image_encoder"):
        assert next(getattr(fp16, module).parameters()).dtype == torch.float32, module
    plain = from_hub()
    assert not torch.equal(plain.unet.conv_in.weight, fp16.unet.conv_in.weight.float())
    assert fp16.weights_hash() != plain.weights_hash()
    assert fp16.source.provenance()["variant"] == "fp16"
    assert model_options(fp16) == f"--revision {C1} --variant fp16"


def test_a_variant_the_snapshot_lacks_is_one_clear_error(hf_env):
    cache, _ = hf_env
    with pytest.raises(InputError) as err:
        load_components(REPO, variant="bf16")
    text = str(err.value)
    assert "variant 'bf16'" in text and C1 in text and str(cache) in text
    assert "unet/ holds diffusion_pytorch_model.fp16.safetensors, diffusion_pytorch_model.safetensors" in text
    # v2 has no fp16 files at all
    with pytest.raises(
        InputError, match="lacks variant 'fp16'.*unet/ holds diffusion_pytorch_model.safetensors;"
    ):
        load_components(REPO, revision="v2", variant="fp16")


def test_a_missing_id_offline_is_one_error_naming_id_cache_and_fix(hf_env, tmp_path):
    cache, _ = hf_env
    args = ["generate", "--model", "owner/absent", "--per-class", "1", "--out", str(tmp_path / "g")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0 and "Traceback" not in result.output
    text = " ".join(result.output.split())  # click wraps nothing, but keep the check layout-proof
    for part in (
        "'owner/absent'",
        "revision 'main'",
        str(cache),
        "HF_HUB_OFFLINE=1",
        "hf download owner/absent",
    ):
        assert part in text, (part, text)
    assert "local diffusers folder" in text


def test_a_missing_revision_is_one_error_listing_what_is_cached(hf_env):
    cache, _ = hf_env
    with pytest.raises(InputError) as err:
        load_components(REPO, revision="v3")
    text = str(err.value)
    assert f"revision 'v3' of Hub model '{REPO}' is not in the Hugging Face cache '{cache}'" in text
    assert f"main -> {C1[:12]}" in text and f"v2 -> {C2[:12]}" in text and f"commit {C3[:12]}" in text
    assert "hf download owner/tiny-sd --revision v3" in text


@pytest.mark.parametrize("model", ["no-such-model", "./missing/folder", "a/b/c"])
def test_neither_a_model_a_folder_nor_a_hub_id_is_todays_error_with_the_hub_hint(hf_env, model):
    with pytest.raises(
        InputError, match=r"neither a built-in model \(tiny, .*nor a folder nor a Hugging Face Hub id"
    ):
        load_components(model)


def test_a_revision_of_a_folder_or_built_in_is_refused(hf_env, tmp_path):
    _, folders = hf_env
    with pytest.raises(InputError, match="local folder; drop --revision"):
        load_components(folders[C1], revision="main")
    with pytest.raises(InputError, match="made in code"):
        load_components("tiny", variant="fp16")


def test_a_dry_run_reads_a_cached_hub_models_size_without_loading(hf_env, tmp_path):
    from genrobust_fast.generation.config import GenerateConfig
    from genrobust_fast.generation.dryrun import _cached_folder, _model_size

    cfg = GenerateConfig(model=REPO, out=str(tmp_path / "g"))
    assert _model_size(_cached_folder(cfg)) == (32, 32)  # the tiny model's size, not the 512 fallback


def _real_images(root):
    from PIL import Image

    for name, shade in (("cat", 60), ("dog", 200)):
        (root / name).mkdir(parents=True)
        Image.new("RGB", (32, 32), (shade, 255 - shade, shade // 2)).save(root / name / "0.png")
    return root


def test_finetuning_from_a_hub_id_records_the_base_commit(hf_env, from_hub, tmp_path):
    from genrobust_fast.finetune import FinetuneConfig, finetune_generator

    real = _real_images(tmp_path / "real")
    cfg = FinetuneConfig(
        model=REPO, revision="v2", real=str(real), out=str(tmp_path / "ft"), steps=1, batch_size=2
    )
    info = json.loads((finetune_generator(cfg) / "finetune.json").read_text())
    assert info["base_model"] == REPO
    assert info["base_model_source"] == {"hub_id": REPO, "revision": "v2", "commit": C2, "variant": None}
    assert info["base_weights_hash"] == from_hub("v2").weights_hash()
    assert "revision" not in info["job"] and "variant" not in info["job"]  # the commit is pinned instead


def test_a_finetuning_job_resumes_only_from_the_commit_it_started_from(hf_env, tmp_path, monkeypatch):
    """main moves between a run and its resumption (a copy of the cache, so the shared one stays put)."""
    from huggingface_hub import constants

    from genrobust_fast.finetune import FinetuneConfig, finetune_generator

    cache = tmp_path / "cache"
    shutil.copytree(hf_env[0], cache, symlinks=True)  # the snapshot links are relative: they stay valid
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    real = _real_images(tmp_path / "real")
    cfg = FinetuneConfig(model=REPO, real=str(real), out=str(tmp_path / "ft"), steps=1, batch_size=2)
    finetune_generator(cfg)  # from main = C1
    (cache / "models--owner--tiny-sd" / "refs" / "main").write_text(C3)
    moved = f"started from commit {C1} .* loaded {C3}; rerun with --revision {C1} to resume it"
    with pytest.raises(JobConflictError, match=moved):
        finetune_generator(cfg)  # finished, but not from what main is now
    longer = FinetuneConfig(**{**cfg.__dict__, "steps": 2})  # more steps resume the same job
    with pytest.raises(JobConflictError, match=moved):
        finetune_generator(longer)
    pinned = FinetuneConfig(**{**longer.__dict__, "revision": C1})  # the advice, followed
    info = json.loads((finetune_generator(pinned) / "finetune.json").read_text())
    assert info["steps"] == 2 and info["base_model_source"]["commit"] == C1


def test_refit_from_a_hub_base_engine_to_a_finetuned_folder(hf_env, from_hub, fake_gpu, tmp_path):
    """New weights are the point of a refit: the base's Hub commit is no reason to refuse it (fake TRT)."""
    from genrobust_fast.engines.build import build_engines
    from genrobust_fast.engines.specs import ShapeProfile
    from genrobust_fast.engines.trt_build import refit_engines

    fake_gpu(10)
    _, folders = hf_env
    profile = ShapeProfile(batch=(1, 2, 4))
    [base] = build_engines(from_hub(), "tensorrt", "fp16", tmp_path, profile, only=["unet"], refittable=True)
    assert base.sidecar.parent.parent.name == "hub--owner--tiny-sd" and base.key.model_revision == C1
    finetuned = load_components(folders[C2])  # a local folder with another UNet
    [refitted] = refit_engines(finetuned, REPO, Precision.FP16, tmp_path, profile)
    assert refitted.key.model_revision is None
    assert {d.split(":")[0] for d in refitted.key.differences(base.key)} == {
        "weights_sha256",
        "model_revision",
    }


def test_the_unet_benchmark_times_the_asked_revision(hf_env):
    from genrobust_fast.bench.unet import run_unet_benchmark

    doc = run_unet_benchmark(
        model=REPO, revision="v2", backends=("torch",), batch=1, device="cpu", quick=True, rounds=1, warmup=1
    )
    assert doc["model"] == REPO
    assert doc["model_source"] == {"hub_id": REPO, "revision": "v2", "commit": C2, "variant": None}


# --- review fixes: incomplete snapshots, short commits, network failures, fetch command, variant fallback


@pytest.fixture
def own_cache(hf_env, tmp_path, monkeypatch):
    """A copy of the test cache that a test may add snapshots to (the shared one stays as described)."""
    from huggingface_hub import constants

    cache = tmp_path / "own-cache"
    shutil.copytree(hf_env[0], cache, symlinks=True)  # the snapshot links are relative: they stay valid
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache, hf_env[1]


def _snapshot_without(cache, source, tmp_path, commit, ref, drop):
    """C1's files less those `drop(relative path)` selects, cached as `commit` under `ref`."""
    folder = tmp_path / ref
    shutil.copytree(source, folder)
    for path in [p for p in folder.rglob("*") if p.is_file() and drop(p.relative_to(folder).as_posix())]:
        path.unlink()
    add_snapshot(cache, REPO, folder, commit, refs=(ref,))
    return folder


def _is_plain_weight(path):
    return path.endswith(".safetensors") and ".fp16" not in path  # whole or sharded


def test_an_incomplete_snapshot_offline_names_the_missing_files_and_the_variant_it_holds(own_cache, tmp_path):
    """Fetched online with --variant fp16 (so the Hub's listing of the commit is cached), run offline
    without it: huggingface_hub raises IncompleteSnapshotError, not 'not in the cache'."""
    from tests.engines.hf_cache import add_tree_listing

    cache, folders = own_cache
    commit = fake_commit("fp16 only")
    _snapshot_without(cache, folders[C1], tmp_path, commit, "fp16-only", _is_plain_weight)
    add_tree_listing(cache, REPO, commit, folders[C1])  # the Hub has the plain weights too
    with pytest.raises(InputError) as err:
        load_components(REPO, revision="fp16-only")
    text = str(err.value)
    assert "not in the Hugging Face cache" not in text, text
    assert f"commit {commit}" in text and "lacks files this run reads" in text
    assert "unet/diffusion_pytorch_model.safetensors" in text or "text_encoder/model.safetensors" in text
    assert "unet/ holds diffusion_pytorch_model.fp16.safetensors" in text and "e.g. --variant fp16" in text
    fp16 = load_components(REPO, revision="fp16-only", variant="fp16")  # the advice, followed
    assert fp16.revision == commit


def test_a_shortened_commit_from_the_not_cached_message_is_accepted_offline(hf_env):
    with pytest.raises(InputError, match=f"commit {C3[:12]}") as err:
        load_components(REPO, revision="v3")
    assert C3[:12] in str(err.value)
    comps = load_components(REPO, revision=C3[:12])  # what the message shows, passed back
    assert comps.revision == C3
    assert comps.source.provenance() == {"hub_id": REPO, "revision": C3, "commit": C3, "variant": None}


@pytest.mark.parametrize("failure", ["ProxyError", "RemoteProtocolError", "ConnectTimeout"])
def test_a_network_failure_is_one_input_error_with_the_fixes(hf_env, monkeypatch, failure):
    """What huggingface_hub lets through after its retries (its http library's errors); the network is
    the only thing mocked."""
    import huggingface_hub
    from huggingface_hub.utils import httpx

    from genrobust_fast.engines.hub import resolve_model

    def unreachable(*args, **kwargs):
        raise getattr(httpx, failure)("the proxy hung up")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", unreachable)
    with pytest.raises(InputError) as err:
        resolve_model(REPO, local_only=False)
    text = str(err.value)
    assert f"'{REPO}'" in text and f"{failure}: the proxy hung up" in text
    assert "proxy" in text and "HF_HUB_OFFLINE=1" in text and "local diffusers folder" in text


def test_the_fetch_command_names_the_cache_and_fetches_what_an_offline_run_reads(hf_env, tmp_path):
    import shlex

    from huggingface_hub.utils import filter_repo_objects

    _, folders = hf_env
    cache = tmp_path / "elsewhere"
    with pytest.raises(InputError) as err:
        load_components(REPO, revision="v3", variant="fp16", cache_dir=cache)
    command = str(err.value).split("`hf download ")[1].split("`")[0]
    words = shlex.split(command)
    assert words[:5] == [REPO, "--revision", "v3", "--cache-dir", str(cache)], words
    includes = [words[i + 1] for i, word in enumerate(words) if word == "--include"]
    files = [p.relative_to(folders[C1]).as_posix() for p in folders[C1].rglob("*") if p.is_file()]
    files += ["safety_checker/model.safetensors", "v1-5-pruned.safetensors", "README.md"]
    fetched = set(filter_repo_objects(files, allow_patterns=includes))
    assert {"model_index.json", "unet/config.json", "tokenizer/tokenizer.json"} <= fetched
    assert "unet/diffusion_pytorch_model.fp16.safetensors" in fetched
    assert not {f for f in fetched if _is_plain_weight(f)}, fetched  # the variant's weights only
    assert not fetched & {"safety_checker/model.safetensors", "v1-5-pruned.safetensors", "README.md"}


def test_a_mistyped_folder_that_reads_as_a_hub_id_says_no_such_folder_either(hf_env, tmp_path, monkeypatch):
    import huggingface_hub
    from huggingface_hub.errors import RepositoryNotFoundError
    from huggingface_hub.utils import httpx

    from genrobust_fast.engines.hub import resolve_model

    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    with pytest.raises(InputError, match="no local folder 'models/sd15' exists"):  # offline, not cached
        load_components("models/sd15")

    def not_on_the_hub(*args, **kwargs):
        url = "https://huggingface.co/api/models/models/sd15"
        response = httpx.Response(404, request=httpx.Request("GET", url))
        raise RepositoryNotFoundError("404 Repository Not Found", response=response)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", not_on_the_hub)
    with pytest.raises(InputError) as err:
        resolve_model("models/sd15", local_only=False)
    text = str(err.value)
    assert "Hub model 'models/sd15' was not found" in text and "no local folder 'models/sd15' exists" in text


def test_a_variant_falls_back_to_plain_weights_per_component_as_diffusers_does(
    own_cache, tmp_path, monkeypatch
):
    import huggingface_hub

    cache, folders = own_cache
    commit = fake_commit("fp16 unet and vae only")
    no_fp16 = ("text_encoder/", "image_encoder/")
    _snapshot_without(
        cache, folders[C1], tmp_path, commit, "partial", lambda p: p.startswith(no_fp16) and ".fp16." in p
    )
    calls = []
    real = huggingface_hub.snapshot_download

    def recorded(*args, **kwargs):
        calls.append((kwargs["revision"], kwargs["allow_patterns"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", recorded)
    comps = load_components(REPO, revision="partial", variant="fp16")
    stored = load_file(
        cache
        / "models--owner--tiny-sd"
        / "snapshots"
        / commit
        / "unet"
        / "diffusion_pytorch_model.fp16.safetensors"
    )
    assert torch.equal(comps.unet.conv_in.weight.to(torch.float16), stored["conv_in.weight"])  # fp16 files
    plain = load_components(folders[C1])
    for module in ("text_encoder", "image_encoder"):  # no fp16 files: the plain weights
        assert comps.module_hash(module) == plain.module_hash(module), module
    assert comps.source.provenance() == {
        "hub_id": REPO,
        "revision": "partial",
        "commit": commit,
        "variant": "fp16",
        "variant_fallback": ["text_encoder", "image_encoder"],
    }
    # Plain weights are asked for only where the variant is missing, pinned to the resolved commit.
    (first, variant_only), (second, fallback) = calls
    assert first == "partial" and not any(_is_plain_weight(p) for p in variant_only)
    assert second == commit and {p.split("/")[0] for p in fallback} == {"text_encoder", "image_encoder"}


def test_a_variant_no_component_of_a_folder_has_is_one_clear_error(hf_env):
    _, folders = hf_env  # C2's folder has no fp16 files at all: falling back everywhere would hide the typo
    with pytest.raises(InputError, match="has no 'fp16' variant weights .* drop --variant"):
        load_components(folders[C2], variant="fp16")
