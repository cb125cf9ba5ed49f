"""Personal soft prompts: mixture by hand, population prompt, gradients per user, export/load."""
from __future__ import annotations

import math
import os
import pickle
from pathlib import Path

import pytest
import torch

from gazelm.errors import GazelmInputError
from gazelm.models.soft_prompt import PersonalSoftPrompt


def _prompt() -> PersonalSoftPrompt:
    module = PersonalSoftPrompt(n_basis=2, n_tokens=1, hidden_size=2, users=["ann", "bob"])
    with torch.no_grad():
        module.basis.copy_(torch.tensor([[[1.0, 0.0]], [[0.0, 4.0]]]))
        module.user_logits["u_ann"].copy_(torch.tensor([math.log(3.0), 0.0]))  # softmax → [0.75, 0.25]
    return module


def test_mixture_prompt_by_hand() -> None:
    p = _prompt().prompts(["ann", "bob"])
    assert p[0, 0].tolist() == pytest.approx([0.75, 1.0])      # 0.75·[1,0] + 0.25·[0,4]
    assert p[1, 0].tolist() == pytest.approx([0.5, 2.0])       # z_bob = 0 → uniform mixture


def test_unseen_user_gets_the_population_prompt() -> None:
    module = _prompt()
    p = module.prompts(["carol", None])
    assert torch.equal(p[0], module.population()) and torch.equal(p[1], module.population())
    assert module.population()[0].tolist() == pytest.approx([0.5, 2.0])


def test_not_personalised_has_no_user_logits() -> None:
    module = PersonalSoftPrompt(2, 1, 2, personalised=False, users=["ann"])
    assert module.users == [] and len(module.user_logits) == 0
    assert torch.equal(module.prompts(["ann"])[0], module.population())
    assert module.logit_penalty(["ann"]).item() == 0.0


def test_gradients_reach_only_the_users_in_the_batch() -> None:
    module = PersonalSoftPrompt(3, 2, 4, users=["ann", "bob", "cid"])
    with torch.no_grad():
        module.basis.normal_()
    module.prompts(["ann", "cid", None]).pow(2).sum().backward()
    assert module.user_logits["u_ann"].grad is not None and module.user_logits["u_ann"].grad.abs().sum() > 0
    assert module.user_logits["u_cid"].grad is not None
    assert module.user_logits["u_bob"].grad is None  # absent from the batch: AdamW skips it entirely


def test_freeze_basis_rows_train_only_their_logits() -> None:
    module = PersonalSoftPrompt(2, 1, 2, users=["new"])
    with torch.no_grad():
        module.basis.normal_()
    module.prompts(["new"], freeze_basis=torch.tensor([True])).sum().backward()
    assert module.basis.grad is None or module.basis.grad.abs().sum() == 0
    assert module.user_logits["u_new"].grad is not None


def test_logit_penalty_is_the_batch_mean() -> None:
    module = _prompt()
    # ann: ln(3)² + 0; bob: 0; unknown users count 0; mean over the 3 batch entries
    assert module.logit_penalty(["ann", "bob", "x"]).item() == pytest.approx(math.log(3.0) ** 2 / 3)


def test_prepend_extends_the_mask() -> None:
    module = _prompt()
    embeds, mask = module.prepend(torch.zeros(2, 3, 2), torch.tensor([[1, 1, 0], [1, 1, 1]]), ["ann", None])
    assert embeds.shape == (2, 4, 2) and mask.tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]]
    assert embeds[0, 0].tolist() == pytest.approx([0.75, 1.0])


def test_export_and_load_round_trip(tmp_path: Path) -> None:
    module = _prompt()
    path = module.save(tmp_path / "prompts.pt")
    raw = torch.load(path, weights_only=True)  # plain tensors and strings only
    assert raw["users"] == ["ann", "bob"]
    loaded = PersonalSoftPrompt.load(path)
    assert torch.equal(loaded.prompts(["ann", "bob", "zed"]), module.prompts(["ann", "bob", "zed"]))


def test_state_dict_creates_users_on_load() -> None:
    module = PersonalSoftPrompt(2, 1, 2, users=["P-1.a"])  # ids with characters module names cannot hold
    fresh = PersonalSoftPrompt(2, 1, 2)
    fresh.load_state_dict(module.state_dict())
    assert fresh.users == ["P-1.a"]


class _Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_loading_refuses_pickled_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    exploit = _Exploit()
    exploit.marker = marker
    path = tmp_path / "evil.pt"
    with open(path, "wb") as fh:
        pickle.dump({"format": "gazelm.soft_prompt.v1", "basis": exploit}, fh)
    torch.save({"format": "gazelm.soft_prompt.v1", "payload": exploit}, tmp_path / "evil2.pt")
    for p in (path, tmp_path / "evil2.pt"):
        with pytest.raises(GazelmInputError):
            PersonalSoftPrompt.load(p)
    assert not marker.exists()
