"""Test script: reads its Pipe-mode channel as this worker's Ray Data shard and saves what
it saw (rows and the sum of the label column) in the model folder."""

import json
import os

from parallel import context

rows, label_sum = 0, 0.0
for batch in context.dataset("train").iter_batches(batch_size=128, batch_format="numpy"):
    first = sorted(batch)[0]  # pyarrow names headerless CSV columns f0, f1, ...; f0 is the label
    rows += len(batch[first])
    label_sum += float(batch[first].sum())
with open(os.path.join(context.model_dir(), f"rows-rank-{context.rank()}.json"), "w") as f:
    json.dump({"rows": rows, "label_sum": label_sum}, f)
