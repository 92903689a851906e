"""FairIF with a data-parallel net: every process of the job runs this script.

    torchrun --standalone --nproc_per_node 2 fairif_accelerate.py
    accelerate launch --num_processes 2 fairif_accelerate.py   # or as `accelerate config` set it up

``python fairif_accelerate.py`` runs it in one process.
"""

import os
import sys

import numpy as np
import torch
from accelerate import Accelerator

from fairif_sklearn import FairIFClassifier
from fairif_sklearn.datasets import make_biased_classification
from fairif_sklearn.nets import make_mlp_classifier

torch.set_num_threads(1)  # processes x threads within the cores
# in every process: it joins the job's process group (NCCL on GPUs; gloo on CPUs, which need cpu=True)
accelerator = Accelerator(cpu=not torch.cuda.is_available())

X, y, s = make_biased_classification(8000, bias="group_shift", random_state=0)
groups = np.where(np.arange(len(y)) < 2000, s, np.nan)  # the first 2000 rows are annotated
# with an accelerator the factory returns an AcceleratedNetClassifier: it trains data-parallel
net = make_mlp_classifier(X.shape[1], max_epochs=10, accelerator=accelerator)
clf = FairIFClassifier(net, random_state=0).fit(X.astype(np.float32), y, sensitive_features=groups)
accuracy = np.mean(clf.predict(X.astype(np.float32)) == y)
accelerator.print(
    f"{accelerator.num_processes} process(es): gaps {np.round(clf.gaps_, 4)} -> "
    f"{np.round(clf.final_gaps_, 4)}, accuracy {accuracy:.4f}"
)
accelerator.end_training()  # every process leaves the process group before it exits
# and leaves without Python's shutdown: a gloo thread may still be releasing a finished collective's
# tensors then, which aborts the process (pytorch/pytorch#190489); the output is flushed first
sys.stdout.flush()
sys.stderr.flush()
os._exit(0)
