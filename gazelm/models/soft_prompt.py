"""Factorised personal soft prompts (FixATE): a shared basis and one mixture per user.

``B ∈ R^{M×N_soft×d}`` (init ``N(0, init_std²)``) is shared by every user; user ``u`` has logits
``z_u ∈ R^M`` (init 0) and the prompt ``P_u = Σ_m softmax(z_u)_m · B_m``, prepended to the input
embeddings. A user without logits (never seen in training, or ``None``) gets the *population
prompt*, the uniform mixture ``mean_m B_m`` — which is also where every ``z_u`` starts, so a new
user's adaptation starts from the population. ``personalised=False`` keeps every user on the
uniform mixture (FixATE's ``USE_USER_ALPHA = False`` ablation: no ``z`` exists at all).

Each ``z_u`` is its own ``Parameter`` (as in FixATE's released code), so a user absent from a
batch gets no gradient and AdamW leaves its logits, moments and decay untouched that step.

The module works on embeddings only: any backbone (text or vision-language) that accepts
``inputs_embeds`` can use it.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Sequence

import torch
from torch import Tensor, nn

from gazelm.errors import GazelmInputError

_FORMAT = "gazelm.soft_prompt.v1"


def _key(user: str) -> str:
    """A ParameterDict key for a user id (module names cannot contain '.')."""
    return "u_" + re.sub(r"[^0-9A-Za-z_]", lambda m: f"-{ord(m.group()):x}-", str(user))


class PersonalSoftPrompt(nn.Module):
    """``prompts(user_ids) -> [B, N_soft, d]``; see the module docstring for the model."""

    def __init__(self, n_basis: int = 8, n_tokens: int = 16, hidden_size: int = 64, init_std: float = 0.01,
                 personalised: bool = True, users: Iterable[str] = ()):
        super().__init__()
        if n_basis < 1 or n_tokens < 1 or hidden_size < 1:
            raise ValueError("n_basis, n_tokens and hidden_size must be >= 1")
        self.n_basis, self.n_tokens, self.hidden_size = int(n_basis), int(n_tokens), int(hidden_size)
        self.personalised = bool(personalised)
        self.basis = nn.Parameter(torch.randn(self.n_basis, self.n_tokens, self.hidden_size) * init_std)
        self.user_logits = nn.ParameterDict()
        self._ids: dict[str, str] = {}  # ParameterDict key -> user id
        self.add_users(users)

    # -- users ------------------------------------------------------------------------
    @property
    def users(self) -> list[str]:
        """User ids that have logits, in insertion order."""
        return list(self._ids.values())

    def add_users(self, users: Iterable[str]) -> list[str]:
        """Create ``z_u = 0`` for users not seen before (no-op when not personalised); the new ids."""
        added = []
        if not self.personalised:
            return added
        for user in users:
            key = _key(user)
            if key in self.user_logits:
                continue
            self.user_logits[key] = nn.Parameter(torch.zeros(self.n_basis, device=self.basis.device))
            self._ids[key] = str(user)
            added.append(str(user))
        return added

    def has_user(self, user: str | None) -> bool:
        return user is not None and _key(user) in self.user_logits

    # -- prompts ----------------------------------------------------------------------
    def mixture_weights(self, user_ids: Sequence[str | None]) -> Tensor:
        """``softmax(z_u)`` per example ``[B, M]``; uniform for users without logits."""
        uniform = torch.full((self.n_basis,), 1.0 / self.n_basis, device=self.basis.device, dtype=self.basis.dtype)
        rows = [torch.softmax(self.user_logits[_key(u)], dim=0).to(self.basis.dtype) if self.has_user(u) else uniform
                for u in user_ids]
        return torch.stack(rows) if rows else uniform.new_zeros(0, self.n_basis)

    def population(self) -> Tensor:
        """The population prompt ``mean_m B_m`` ``[N_soft, d]``."""
        return self.basis.mean(dim=0)

    def prompts(self, user_ids: Sequence[str | None], freeze_basis: Tensor | None = None) -> Tensor:
        """``P_u`` per example ``[B, N_soft, d]``. ``freeze_basis`` ``[B]`` (bool): those rows use a
        detached basis, so they train only their user's logits (new-user shots)."""
        weights = self.mixture_weights(user_ids)
        out = torch.einsum("bm,mnd->bnd", weights, self.basis)
        if freeze_basis is not None and bool(freeze_basis.any()):
            frozen = torch.einsum("bm,mnd->bnd", weights, self.basis.detach())
            out = torch.where(freeze_basis.to(out.device).view(-1, 1, 1), frozen, out)
        return out

    def prepend(self, inputs_embeds: Tensor, attention_mask: Tensor, user_ids: Sequence[str | None],
                freeze_basis: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``[P_u; x]`` and the attention mask extended with ones over the prompt."""
        prompts = self.prompts(user_ids, freeze_basis).to(inputs_embeds.dtype)
        ones = attention_mask.new_ones(attention_mask.shape[0], self.n_tokens)
        return torch.cat([prompts, inputs_embeds], dim=1), torch.cat([ones, attention_mask], dim=1)

    def logit_penalty(self, user_ids: Sequence[str | None]) -> Tensor:
        """``mean over the batch of ‖z_u‖²`` (users without logits count 0), as FixATE's regulariser."""
        terms = [self.user_logits[_key(u)].pow(2).sum() for u in user_ids if self.has_user(u)]
        if not terms:
            return self.basis.new_zeros(())
        return torch.stack(terms).sum() / len(user_ids)

    # -- state ------------------------------------------------------------------------
    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        """Create the logits of users present in a checkpoint before loading (resume, evaluation)."""
        head = prefix + "user_logits."
        for name in state_dict:
            if name.startswith(head) and self.personalised:
                key = name[len(head):]
                if key not in self.user_logits:
                    self.user_logits[key] = nn.Parameter(torch.zeros(self.n_basis, device=self.basis.device))
                    self._ids[key] = _user_from_key(key)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def export(self) -> dict:
        """Plain tensors + user ids (what :meth:`save` writes)."""
        users = self.users
        logits = (torch.stack([self.user_logits[_key(u)].detach().cpu() for u in users]) if users
                  else torch.zeros(0, self.n_basis))
        return {"format": _FORMAT, "basis": self.basis.detach().cpu(), "user_logits": logits, "users": users,
                "personalised": self.personalised}

    def save(self, path: str | Path) -> Path:
        """Write the prompts alone (basis, logits, user ids): a small file, loadable with ``weights_only=True``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(self.export(), path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "PersonalSoftPrompt":
        """Read a file written by :meth:`save` (``torch.load(weights_only=True)``: never unpickles code)."""
        path = Path(path)
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # a pickle with code, or not a torch file
            raise GazelmInputError(f"not a gazelm soft-prompt file: {err}", path=path) from None
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise GazelmInputError(f"not a gazelm soft-prompt file (expected format {_FORMAT!r})", path=path)
        basis = data["basis"]
        module = cls(basis.shape[0], basis.shape[1], basis.shape[2], personalised=bool(data["personalised"]),
                     users=data["users"])
        with torch.no_grad():
            module.basis.copy_(basis)
            for user, row in zip(data["users"], data["user_logits"]):
                module.user_logits[_key(user)].copy_(row)
        return module

    def load_prompts(self, other: "PersonalSoftPrompt") -> None:
        """Copy the basis and every user's logits of ``other`` into this module (shapes must match)."""
        if other.basis.shape != self.basis.shape:
            raise GazelmInputError(f"soft-prompt shapes differ: {tuple(other.basis.shape)} vs "
                                   f"{tuple(self.basis.shape)}", field="soft_prompt")
        with torch.no_grad():
            self.basis.copy_(other.basis.to(self.basis.device))
            self.add_users(other.users)
            for user in other.users:
                if self.has_user(user):
                    self.user_logits[_key(user)].copy_(other.user_logits[_key(user)].to(self.basis.device))


def _user_from_key(key: str) -> str:
    body = key[2:] if key.startswith("u_") else key
    return re.sub(r"-([0-9a-f]+)-", lambda m: chr(int(m.group(1), 16)), body)
