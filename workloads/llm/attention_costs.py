"""Counting conventions shared by the attention generators (standard and FlashAttention).

These are conventions, not hardware numbers: how many FLOPs an elementwise step costs and
how many bytes an auxiliary value takes. Both algorithms use the same table so their
totals are comparable; attention_io.py restates the formulas independently.

FLOPs
    Matrix products: 2 FLOPs per multiply-add (an (r x k) by (k x c) product is 2*r*c*k),
    whether the result is written fresh or accumulated into an existing block. A scale
    factor applied to a product's output (the softmax temperature tau, cuBLAS's alpha) is
    1 FLOP per output element.
    Elementwise steps, per element they touch:
      mask (select against -inf)                        0  (a comparison, not arithmetic)
      softmax, materialised (max, subtract, exp, sum, divide)    5
      online softmax of FlashAttention (max, subtract, exp, sum) 4  (the divide is
          deferred to the output rows, counted there)
      softmax recomputed in FlashAttention's backward (subtract m, exp, divide by l) 3
      softmax backward, PyTorch (rowsum(dP * P): 2, subtract, multiply)          4
      softmax backward, FlashAttention (dP - D, multiply by P; D counted apart)  2
      dropout, forward or backward (multiply by the scaled keep mask)            1
          (random number generation is not counted)
    FlashAttention's per-row statistics (Algorithm 1 lines 10-12: new max, two
    exponentials of differences, new sum) cost 8 FLOPs per row per block and its output
    update (rescale the old O_i, rescale the new P V product, add, divide by l) 4 per
    output element per block; D_i = rowsum(dO_i * O_i) (Algorithm 4) 2 per element of
    dO_i each time it is computed.
    Every FLOP goes on the unit ``TENSOR_UNIT``: the xPU spec has one FLOP/s figure. On a
    real GPU the elementwise part runs on the slower vector (CUDA) cores; at most about
    2 % of either algorithm's FLOPs at head_dim 64 are elementwise.

Bytes
    Q, K, V, O and their gradients, S, P and dS: ``AttentionShape.bytes_per_element``.
    The dropout keep-mask saved by PyTorch: 1 byte per element (native_dropout returns a
    bool mask that autograd saves for native_dropout_backward; PyTorch's
    aten/src/ATen/native/native_functions.yaml and tools/autograd/derivatives.yaml).
    FlashAttention's row statistics l and m: 4 bytes each (float32, as the reference
    implementation keeps its softmax statistics).
"""

from __future__ import annotations

TENSOR_UNIT = "tensor"
MEMORIES = ("hbm", "sram")

DROPOUT_MASK_BYTES = 1
STATS_BYTES = 4

SCALE_FLOPS = 1
MASK_FLOPS = 0
SOFTMAX_FLOPS = 5
ONLINE_SOFTMAX_FLOPS = 4
RECOMPUTED_SOFTMAX_FLOPS = 3
SOFTMAX_BWD_FLOPS = 4
FLASH_SOFTMAX_BWD_FLOPS = 2
DROPOUT_FLOPS = 1
FLASH_ROW_STATS_FLOPS = 8
FLASH_OUTPUT_UPDATE_FLOPS = 4
FLASH_ROWSUM_D_FLOPS = 2
