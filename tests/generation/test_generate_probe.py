"""Hostile generate inputs found by the second probe of issue 28, refused before the model loads."""

import pytest

from genrobust_fast.errors import ConfigError, InputError
from genrobust_fast.generation.config import GenerateConfig
from genrobust_fast.generation.worklist import read_prompt_file


@pytest.mark.parametrize("size", [(100000, 100000), (8193, 64)])
def test_an_absurd_size_is_refused_by_the_config(size):
    # It failed allocating 40 GB inside the VAE, after the model loaded, as a RuntimeError traceback.
    with pytest.raises(ConfigError, match="expected at most 8192 pixels a side"):
        GenerateConfig(model="tiny", size=size)
    assert GenerateConfig(model="tiny", size=(8192, 64)).size == (8192, 64)


@pytest.mark.parametrize("prompt", ["null", "3", '["a"]', '{"x": 1}'])
def test_a_jsonl_prompt_that_is_not_a_string_is_refused(tmp_path, prompt):
    # str(None) made every image of the class prompted "None".
    path = tmp_path / "prompts.jsonl"
    path.write_text(
        f'{{"class_id": "n01440764", "prompt": "a tench"}}\n{{"class_id": "n01440764", "prompt": {prompt}}}\n'
    )
    with pytest.raises(
        InputError, match=r"prompts\.jsonl:2: expected a JSON object with class_id and prompt \(prompt is"
    ):
        read_prompt_file(path)


def test_a_prompt_longer_than_the_text_encoder_takes_is_said_to_be_cut(caplog):
    # The tokenizer truncated it silently; provenance records the whole prompt the model never saw.
    from genrobust_fast.generation.job import create_pipeline

    _, _, pipe = create_pipeline(GenerateConfig(model="tiny", backend="torch", device="cpu"))
    limit = pipe.components.tokenizer.model_max_length
    with caplog.at_level("WARNING", logger="genrobust_fast.generation.conditioning"):
        pipe.prompts.encode(["a short prompt"])
        assert not caplog.records
        pipe.prompts.encode(["word " * (2 * limit)])
    assert len(caplog.records) == 1 and f"cut to the text encoder's {limit}" in caplog.text
    assert caplog.records[0].name == "genrobust_fast.generation.conditioning"  # not transformers' own
