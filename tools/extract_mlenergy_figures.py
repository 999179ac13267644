"""Read the published ML.ENERGY inference measurements off their blog's figures into data/published_inference.csv.

The ML.ENERGY blog (github.com/ml-energy/blog) publishes its leaderboard figures as Matplotlib SVGs. Each
SVG keeps its tick labels as comments next to the tick positions, and each curve as a path of data
coordinates, so the plotted values can be recovered exactly (to the figure's drawing precision, well under
1 %) by mapping path coordinates through the axis ticks. This script does that for:

* docs/posts/assets/llm-energy-over-time/llama-{energy-per-token,throughput,power}-light.svg
  ("LLM Inference Energy: A Longitudinal Analysis", 2026-02-09): Llama 3.1 8B / 70B / 405B on 1 / 4 / 8
  H100 GPUs, V2 (vLLM 0.5.4, 405B in BF16) and V3 (vLLM 0.11.1, 405B in FP8), by batch size;
* docs/posts/assets/ml-energy-leaderboard-v3.0/section3-power-light.svg ("Reading the ML.ENERGY
  Leaderboard v3.0", 2026-01-13): four models on B200, energy per token by batch size.

The Qwen 3 32B rows are typed from the table in the v3.0 post. Architecture columns (layers, hidden size,
key/value width = kv heads x head dim, expert share) are the models' published configurations, in
tools/mlenergy_models.py (shared with tools/extract_mlenergy_leaderboard.py).

    python tools/extract_mlenergy_figures.py /path/to/ml-energy-blog-checkout > src/mlfootprint/data/published_inference.csv
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

from mlenergy_models import PROMPT_TOKENS, expert_parallel, shape_cells

B200_MODELS = {  # legend label -> (model, accelerators, precision)
    "Qwen 3 8B (1x B200)": ("Qwen 3 8B", 1, "bf16"),
    "Llama 3.1 70B Instruct (2x B200)": ("Llama 3.1 70B", 2, "bf16"),
    "Qwen 3 235B A22B Instruct (4x B200)": ("Qwen 3 235B A22B", 4, "bf16"),
    "Llama 3.1 405B Instruct (8x B200)": ("Llama 3.1 405B", 8, "bf16"),
}
# Text Conversation task means stated in the v3.0 post: 717 output tokens (mean over models); 224 prompt
# tokens (the post's Qwen 3 32B case). The posts give no per-model lengths, so every conversation row uses these.
PROMPT, OUTPUT = PROMPT_TOKENS["text conversation"], 717
LONGITUDINAL = "ML.ENERGY blog: LLM Inference Energy: A Longitudinal Analysis (2026-02-09) figures"
V3_POST = "ML.ENERGY blog: Reading the ML.ENERGY Leaderboard v3.0 (2026-01-13)"


def curves(svg: str, whole_x: bool = True) -> list[tuple[list[str], dict[str, list[tuple[float, float]]]]]:
    """Per axes: its label comments, and each coloured curve's points in data coordinates (x rounded to a
    whole number where x is a batch size)."""
    out = []
    for ax in re.split(r'<g id="axes_\d+">', svg)[1:]:
        def ticks(kind: str) -> list[tuple[float, float, float, bool]]:
            found = []
            for m in re.finditer(r'<g id="%stick_\d+">(.*?)<!-- (.*?) -->' % kind, ax, re.S):
                use = re.search(r'<use xlink:href="#m[0-9a-f]+" x="([-\d.]+)" y="([-\d.]+)"', m.group(1))
                label = m.group(2).replace("\u2212", "-")
                power = re.search(r"10\^\{(-?\d+)\}", label)
                try:
                    value, log = (float(power.group(1)), True) if power else (float(label), False)
                except ValueError:
                    continue
                if use:
                    found.append((float(use.group(1)), float(use.group(2)), value, log))
            return found
        xt, yt = ticks("x"), ticks("y")
        (x0, _, u0, _), (x1, _, u1, _) = xt[0], xt[-1]
        (_, y0, v0, log), (_, y1, v1, _) = yt[0], yt[-1]

        def fx(x: float) -> float:
            return u0 + (x - x0) * (u1 - u0) / (x1 - x0)

        def fy(y: float) -> float:
            v = v0 + (y - y0) * (v1 - v0) / (y1 - y0)
            return 10 ** v if log else v
        series: dict[str, list[tuple[float, float]]] = {}
        for m in re.finditer(r'<path d="(M [^"]*?)" clip-path="[^"]*" style="fill: none; stroke: (#[0-9a-f]{6}); '
                             r'stroke-width: [\d.]+(?:; stroke-linecap: square)?"', ax):
            pts = [(round(fx(float(a))) if whole_x else fx(float(a)), fy(float(b)))
                   for a, b in re.findall(r"([-\d.]+) ([-\d.]+)", m.group(1))]
            series[m.group(2)] = pts
        out.append((re.findall(r"<!-- (.*?) -->", ax), series))
    return out


def legend(svg: str, known: dict[str, object]) -> dict[str, str]:
    """Curve colour -> legend label: each known label takes the colour of the legend line drawn just before it."""
    block = svg[svg.find('<g id="legend_1">'):]
    found, last = {}, None
    for m in re.finditer(r"stroke: (#[0-9a-f]{6})|<!-- (.*?) -->", block):
        if m.group(1):
            last = m.group(1)
        elif m.group(2) in known and last:
            found[last] = m.group(2)
    return found


def batch_labels(svg: str, colour: str, labels: set[int], within: float = 27.0) -> list[int | None]:
    """The batch size annotated beside each point of one curve: the nearest annotation drawn in the curve's
    colour (in drawing units) within `within`, each used once; None where a point carries no label."""
    marks = []
    for m in re.finditer(r"<!-- (\d+) -->\s*<g style=\"fill: (#[0-9a-f]{6})\" transform=\"translate\(([-\d.]+) ([-\d.]+)\)",
                         svg):
        if int(m.group(1)) in labels and m.group(2) == colour:
            marks.append((int(m.group(1)), float(m.group(3)), float(m.group(4))))
    path = re.search(r'<path d="(M [^"]*?)" clip-path="[^"]*" style="fill: none; stroke: %s' % colour, svg)
    points = [(float(a), float(b)) for a, b in re.findall(r"([-\d.]+) ([-\d.]+)", path.group(1))] if path else []
    pairs = sorted((math.dist(p, (x, y)), i, j) for i, p in enumerate(points) for j, (_, x, y) in enumerate(marks))
    found: list[int | None] = [None] * len(points)
    used: set[int] = set()
    for dist, i, j in pairs:
        if dist <= within and found[i] is None and j not in used:
            found[i], _ = marks[j][0], used.add(j)
    return found


def main(root: Path) -> None:
    over = root / "docs/posts/assets/llm-energy-over-time"
    energy, tput, power = (curves((over / f"llama-{n}-light.svg").read_text())
                           for n in ("energy-per-token", "throughput", "power"))
    print("# Published LLM inference measurements: GPU energy per output token in steady state (ML.ENERGY measures\n"
          "# GPU energy only, with Zeus/NVML), token throughput and total GPU power of all the run's GPUs, by batch\n"
          "# size (vLLM max_num_seqs). Written by tools/extract_mlenergy_figures.py, which says how each value was read.\n"
          "# set: fit = what estimate/inference.py calibrates its model on; check-* = never fitted on: the check-other-hardware and\n"
          "# check-older-software rows set the width of the printed range, and report the error; the leaderboard's rows (the other file) only test.\n"
          "# kv_dim: key/value heads x head dim; expert_share: a mixture of experts' experts per token / routed experts;\n"
          "# experts: routed experts per layer; attention_width: query heads x head dim; expert_parallel: 1 where vLLM\n"
          "# ran the experts spread over the GPUs (ML.ENERGY's configs: every mixture of experts);\n"
          "# prompt/output tokens: the task means the posts state.")
    print("set,model,hardware,accelerators,expert_parallel,precision,software,task,batch,prompt_tokens,output_tokens,"
          "params,active_params,layers,d_model,kv_dim,expert_share,experts,attention_width,energy_j_per_token,"
          "tokens_per_s,power_w,source")
    version = {"#e74c3c": ("v2", "vLLM 0.5.4"), "#3498db": ("v3", "vLLM 0.11.1")}  # the posts' V2 red, V3 blue
    for (labels, e_series), (_, t_series), (_, p_series) in zip(energy, tput, power):
        title = next(lab for lab in labels if lab.startswith("Llama"))
        model, gpus = re.match(r"(Llama 3\.1 \d+B) \((\d+) GPUs?\)", title).groups()
        for colour, pts in e_series.items():
            tag, software = version[colour]
            precision = "fp8" if (model.endswith("405B") and tag == "v3") else "bf16"
            if model.endswith("405B") and tag == "v2":
                continue  # stated as BF16 on 8 H100s, whose 640 GB cannot hold 812 GB of BF16 weights: inconsistent, left out
            tp, pw = dict(t_series[colour]), dict(p_series[colour])
            for batch, j in pts:
                print(f"{'fit' if tag == 'v3' else 'check-older-software'},{model},h100-sxm,{gpus},,{precision},"
                      f"{software},text conversation,{batch},{PROMPT},{OUTPUT},{shape_cells(model)},"
                      f"{j:.4g},{tp[batch]:.5g},{pw[batch]:.5g},{LONGITUDINAL} (ML.ENERGY Leaderboard {tag.upper()})")
    svg = (root / "docs/posts/assets/ml-energy-leaderboard-v3.0/section3-power-light.svg").read_text()
    names = legend(svg, B200_MODELS)
    labels, series = curves(svg)[0]
    for colour, pts in series.items():
        model, n, precision = B200_MODELS[names[colour]]
        for batch, j in pts:
            print(f"check-other-hardware,{model},b200,{n},{expert_parallel(model)},{precision},vLLM 0.11.1,text conversation,"
                  f"{batch},{PROMPT},"
                  f"{OUTPUT},{shape_cells(model)},{j:.4g},,,"
                  f"{V3_POST} figure: energy per token on B200 (task not named; instruct models: taken as text "
                  "conversation)")
    for task, batch, output, j in (("text conversation", 128, 627, 0.209), ("text conversation", 512, 627, 0.151),
                                   ("problem solving", 128, 7035, 0.312)):
        prompt = PROMPT_TOKENS[task]
        print(f"check-other-hardware,Qwen 3 32B,b200,1,,bf16,vLLM 0.11.1,{task},{batch},{prompt},{output},"
              f"{shape_cells('Qwen 3 32B')},{j},,,{V3_POST} table: case study on Qwen 3 32B on 1x B200")
    moe_tradeoff(root)


QWEN_235B_FP8 = "Qwen 3 235B A22B Thinking FP8"
TRADEOFF = {"#e74c3c": ("b200", 2), "#3498db": ("b200", 4), "#23d175": ("h100-sxm", 4), "#9b59b6": ("h100-sxm", 8)}


def moe_tradeoff(root: Path) -> None:
    """The v3.0 post's time-energy figure for the Qwen 3 235B A22B mixture of experts in FP8 on Problem Solving:
    median inter-token latency (x) and energy per token (y), each point annotated with its batch size. A
    decoding step yields one token per sequence, so throughput = batch / ITL (derived), and power = energy per
    token x throughput (derived). The H100 rows are the only mixture-of-experts measurements on H100, so they
    are fitted on (the model's mixture-of-experts efficiency); the B200 rows are held out."""
    svg = (root / "docs/posts/assets/ml-energy-leaderboard-v3.0/section2-5-235b-tradeoff-light.svg").read_text()
    (_, series), = curves(svg, whole_x=False)
    sizes = {16, 32, 64, 128, 256, 384, 512, 1024}
    for colour, pts in series.items():
        hardware, n = TRADEOFF[colour]
        for (itl_ms, j), batch in zip(pts, batch_labels(svg, colour, sizes)):
            if batch is None:
                continue  # a point drawn without its batch size: left out
            tps = batch / (itl_ms / 1000)
            print(f"{'fit' if hardware == 'h100-sxm' else 'check-other-hardware'},Qwen 3 235B A22B,{hardware},{n},"
                  f"{expert_parallel('Qwen 3 235B A22B')},fp8,"
                  f"vLLM 0.11.1,problem solving,{batch},{PROMPT_TOKENS['problem solving']},6988,"
                  f"{shape_cells('Qwen 3 235B A22B')},{j:.4g},{tps:.5g},"
                  f"{j * tps:.5g},{V3_POST} figure: time-energy tradeoff of {QWEN_235B_FP8} on Problem Solving "
                  "(tokens/s = batch / median ITL and power = J/token x tokens/s: derived; lengths: the task means)")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
