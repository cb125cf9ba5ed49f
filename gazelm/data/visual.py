"""The Lightning DataModule for FixATE on visual interfaces (``data=recgaze``, ``data=adserp``).

Trials come from a study loader (:mod:`gazelm.interfaces.sources`, ``source.name``) with their
split; each page is rendered once (:mod:`gazelm.interfaces.render`, PNGs cached under
``cache_dir``); each example is encoded by the backbone family's processor when a batch is made
(:func:`gazelm.data.visual_batch.encode_visual`; images are too large to cache as tensors for the
real backbones), so ``num_workers`` parallelises it.

Batches carry the keys of the FixATE objective (``docs/fixate.md``): ``input_ids``,
``attention_mask``, ``labels``, the family's image tensors, ``user_index`` (into
:attr:`VisualDataModule.users`, the training split's users, sorted; ``-1`` = a user never seen
in training, who gets the population prompt), ``slot_matrix`` ``[B, n_slots, L]`` (image patches
of each visual token inside each slot: the patch-to-slot pooling as a matrix), ``slot_mask``,
``gaze_target`` (the person's dwell share per slot), ``dwell_ms`` (and ``cursor_ms``),
``answer_position``, ``option_ids`` (``-1`` padding), ``choice_index``, ``correct_index``
(``-1``: these studies have no correct answer), ``adapt_only``, ``example_index``; training
batches also carry the optimizer step's totals of the objective's counts (``window_*``) for exact
gradient accumulation, and the training loader resumes mid-epoch as the text DataModule's does
(:mod:`gazelm.data.resumable`).

The prompt is ``prompt.template`` filled with the trial's fields (RecGaze: ``{profile}``;
AdSERP: ``{query}``, ``{persona}``), after the image in the chat template.
"""
from __future__ import annotations

import logging
import random
from functools import partial
from pathlib import Path
from typing import Any, Mapping

from omegaconf import DictConfig, OmegaConf
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from gazelm.data.example import Example
from gazelm.data.resumable import ResumableDataModule
from gazelm.data.visual_batch import collate_visual, encode_visual, letter_token_ids
from gazelm.errors import GazelmInputError
from gazelm.interfaces.page import TrialSet, VisualTrial
from gazelm.interfaces.render import rendered_page
from gazelm.interfaces.sources import STUDIES, load_trials, missing_study_files

log = logging.getLogger(__name__)
SPLITS = ("train", "val", "test")


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value, resolve=True) if isinstance(value, DictConfig) else value


def fill_prompt(template: str, trial: VisualTrial) -> str:
    """``template`` with the trial's fields (``{profile}``, ``{query}``, …); a missing field is an error."""
    try:
        return template.format(**trial.fields)
    except KeyError as err:
        raise GazelmInputError(f"prompt template field {err} is not a field of trial {trial.id} "
                               f"({', '.join(trial.fields)})", field="data.prompt.template") from None


def gaze_target(dwell: list[float]) -> list[float]:
    """Dwell share per slot ``g = dwell / Σ dwell`` (zeros when nothing was dwelt on)."""
    total = float(sum(dwell))
    return [d / total for d in dwell] if total > 0 else [0.0] * len(dwell)


class VisualTrialDataset(Dataset):
    """Trials → :func:`encode_visual` features plus the gaze target, the user and the indices."""

    def __init__(self, module: "VisualDataModule", split: str):
        self.module, self.split = module, split
        self.trials = module.split_trials(split)

    def __len__(self) -> int:
        return len(self.trials)

    def __getitem__(self, index: int) -> dict[str, Any]:
        m, trial = self.module, self.trials[index]
        with Image.open(m.image_path(trial)) as image:
            features = encode_visual(m.adapter, image.convert("RGB"), fill_prompt(m.template, trial), trial.page.boxes,
                                     trial.choice, m.option_ids, m.system)
        dwell = trial.target(m.signal)
        features.update(gaze_target=gaze_target(dwell), dwell_ms=dwell, example_index=index,
                        user_index=m.user_index.get(trial.user, -1), choice_index=-1 if trial.choice is None
                        else trial.choice, correct_index=-1, adapt_only=False)
        if trial.cursor_ms is not None:
            features["cursor_ms"] = list(trial.cursor_ms)
        return features


class VisualDataModule(ResumableDataModule):
    """``source``: ``{name: recgaze | adserp, path, …loader options}``; ``prompt``: ``{template,
    system}``; ``signal``: the dwell the attention target is made of (``fixation`` or ``cursor``)."""

    def __init__(self, source: Mapping[str, Any], prompt: Mapping[str, Any], signal: str = "fixation",
                 batch_size: int = 4, eval_batch_size: int | None = None, num_workers: int = 0,
                 cache_dir: str | None = None, poster_dir: str | None = None, seed: int = 0,
                 max_examples: Mapping[str, int | None] | None = None, task: Any = None, gaze: Any = None):
        super().__init__()
        self.source = dict(_plain(source))
        # per-split limits live under data.max_examples; data.source.max_examples (what debug presets set) too
        max_examples = {**dict(_plain(max_examples) or {}), **dict(self.source.pop("max_examples", None) or {})}
        prompt = dict(_plain(prompt))
        if "template" not in prompt:
            raise GazelmInputError("the prompt needs a template", field="data.prompt.template")
        self.template, self.system = str(prompt["template"]), prompt.get("system")
        if signal not in ("fixation", "cursor"):
            raise GazelmInputError(f"signal must be fixation or cursor, got {signal!r}", field="data.signal")
        self.signal, self.batch_size = signal, batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.num_workers, self.cache_dir, self.poster_dir, self.seed = num_workers, cache_dir, poster_dir, seed
        self.max_examples = max_examples
        self._trials: TrialSet | None = None
        self._splits: dict[str, list[VisualTrial]] = {}
        self.backbone = self.adapter = None
        self.option_ids: list[int] = []

    @staticmethod
    def source_problems(source: Mapping[str, Any]) -> list[str]:
        """What is wrong with ``data.source`` before anything loads (:mod:`gazelm.preflight`): an
        unknown study, or files the study would read and cannot find."""
        name, options = source.get("name"), {k: v for k, v in source.items() if k not in ("name", "max_examples")}
        if name not in STUDIES:
            return [f"unknown interface study {name!r}; known: {', '.join(STUDIES.names())}"]
        return missing_study_files(name, **options)

    # -- trials -------------------------------------------------------------------------
    @property
    def trial_set(self) -> TrialSet:
        if self._trials is None:
            options = {k: v for k, v in self.source.items() if k != "name"}
            options.setdefault("signal", self.signal)
            self._trials = load_trials(self.source["name"], **options)
            log.info("%s: %d trials %s; counts %s", self.source["name"], len(self._trials.trials),
                     self._trials.split_sizes(), dict(self._trials.counts))
        return self._trials

    def split_trials(self, split: str) -> list[VisualTrial]:
        if split not in SPLITS:
            raise GazelmInputError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
        if split not in self._splits:
            trials = self.trial_set.split(split)
            limit = self.max_examples.get(split)
            if limit is not None and 0 <= limit < len(trials):  # a seeded sample across users and stimuli
                keep = sorted(random.Random(f"{self.seed}:{split}").sample(range(len(trials)), limit))
                trials = [trials[i] for i in keep]
            self._splits[split] = trials
        return self._splits[split]

    @property
    def users(self) -> list[str]:
        """The training split's users, sorted (``user_index`` indexes this list)."""
        return sorted({t.user for t in self.trial_set.split("train")})

    @property
    def user_index(self) -> dict[str, int]:
        if not hasattr(self, "_user_index"):
            self._user_index = {u: i for i, u in enumerate(self.users)}
        return self._user_index

    def split_examples(self, split: str) -> list[Example]:
        """The split's trials as :class:`Example` records (ids, prompts, letters, slots, targets)."""
        examples = []
        for t in self.split_trials(split):
            letters = [s.letter for s in t.page.slots]
            examples.append(Example(
                id=t.id, task="choice", source=fill_prompt(self.template, t),
                target=letters[t.choice] if t.choice is not None else "", source_language="text",
                target_language="text",
                meta={"user": t.user, "choices": letters, "choice": -1 if t.choice is None else t.choice,
                      "choice_is_slot": True, "correct": -1, "slot_target": gaze_target(t.target(self.signal)),
                      "slot_boxes": [list(s.box) for s in t.page.slots],
                      "slot_sizes": [(s.box[2] - s.box[0]) * (s.box[3] - s.box[1]) for s in t.page.slots],
                      "slot_classes": self.slot_classes(t), "image": str(self.image_path(t)),
                      "stimulus": t.stimulus}))
        return examples

    @staticmethod
    def slot_classes(trial: VisualTrial) -> list[str]:
        """What the class-mean baseline pools by: RecGaze a slot's place on the page (row, column),
        AdSERP an area's kind (top / native / right-hand ad, organic result)."""
        if trial.page.render.get("kind") == "carousel":
            return [f"r{i // 5 + 1}c{i % 5 + 1}" for i in range(len(trial.page.slots))]
        return [s.kind for s in trial.page.slots]

    def tokenizer_corpus(self, split: str = "train") -> list[str]:
        """Prompt texts of ``split`` (the training split; a tiny model's tokenizer learns from them)."""
        return [fill_prompt(self.template, t) for t in self.split_trials(split)]

    # -- backbone -----------------------------------------------------------------------
    def attach_backbone(self, backbone) -> None:
        if getattr(backbone, "adapter", None) is None:
            raise GazelmInputError(f"data={self.source['name']} shows the model images: it needs a vision-language "
                                   "backbone (model.kind: vlm, e.g. model=tiny_vlm_qwen3)", field="model")
        self.backbone, self.adapter = backbone, backbone.adapter
        n = max(len(t.page.slots) for s in SPLITS for t in self.trial_set.split(s))
        self.option_ids = letter_token_ids(backbone.tokenizer, n)

    def attach_tokenizer(self, tokenizer, causal: bool, add_bos: bool = False, identity: str = "") -> None:
        raise GazelmInputError(f"data={self.source['name']} needs a vision-language backbone (model.kind: vlm)",
                               field="model")

    def image_path(self, trial: VisualTrial) -> Path:
        if not self.cache_dir:
            raise GazelmInputError("the visual data needs a cache_dir for its rendered pages", field="data.cache_dir")
        return rendered_page(trial.page, self.cache_dir, self.poster_dir)

    # -- loaders ------------------------------------------------------------------------
    def prepare_data(self) -> None:  # render every page once (cached)
        for split in SPLITS:
            for trial in self.split_trials(split):
                self.image_path(trial)

    def setup(self, stage: str | None = None) -> None:
        if self.adapter is None:
            raise RuntimeError("VisualDataModule.attach_backbone(backbone) must be called first")

    def split_loader(self, split: str, train: bool) -> DataLoader:
        dataset = VisualTrialDataset(self, split)  # pages are about equally long: random training batches
        sampler = self.batch_sampler([1] * len(dataset), train, mega_batch=1)
        a = self.adapter
        collate = partial(collate_visual, pad_token_id=self.backbone.tokenizer.pad_token_id, token_keys=a.token_keys,
                          image_keys=a.image_keys, image_token_id=a.image_token_id)
        return self.data_loader(dataset, sampler, collate)
