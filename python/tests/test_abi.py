"""test_abi.py — the ctypes structures of curvo/_lib.py against include/curvo.h: a C program built with
the system compiler prints sizeof and offsetof of every mirrored structure and field, which must equal
ctypes' (curvo_opt_params only has to fit in its buffer; curvo_checkpoint_info is mirrored up to its
loss field)."""
import shutil
import subprocess

import pytest

from curvo import _lib

STRUCTS = [  # (ctypes class, C type, exact size?)
    (_lib.Rng, "curvo_rng", True), (_lib.Batch, "curvo_batch", True), (_lib.ParamInfo, "curvo_param_info", True),
    (_lib.StepInfo, "curvo_step_info", True), (_lib.TrainOptions, "curvo_train_options", True), (_lib.Schedule, "curvo_schedule", True),
    (_lib.Progress, "curvo_progress", True), (_lib.Standardization, "curvo_standardization", True),
    (_lib.Metrics, "curvo_metrics", True), (_lib.DataOptions, "curvo_data_options", True),
    (_lib.CheckpointInfoHead, "curvo_checkpoint_info", False), (_lib.OptParams, "curvo_opt_params", False),
]


def test_struct_layouts_match_the_header(source_dir, tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    lines = ["#include <stddef.h>", "#include <stdio.h>", '#include "curvo.h"', "int main(void) {"]
    expected = []
    for cls, ctype, exact in STRUCTS:
        lines.append('printf("%%zu\\n", sizeof(%s));' % ctype)
        expected.append(("sizeof " + ctype, exact, ctypes_size(cls)))
        for name, _ in cls._fields_:
            if name.startswith("_"):
                continue
            lines.append('printf("%%zu\\n", offsetof(%s, %s));' % (ctype, name))
            expected.append(("offsetof %s.%s" % (ctype, name), True, getattr(cls, name).offset))
    lines += ["return 0;", "}"]
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines))
    exe = tmp_path / "layout"
    subprocess.run([cc, "-std=c11", "-I", source_dir + "/include", str(src), "-o", str(exe)], check=True)
    got = [int(v) for v in subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split()]
    assert len(got) == len(expected)
    for (what, exact, want), c_value in zip(expected, got):
        if exact:
            assert c_value == want, what
        elif what.startswith("sizeof curvo_opt_params"):
            assert c_value <= want, "%s: %d > the binding's buffer of %d bytes" % (what, c_value, want)


def ctypes_size(cls):
    import ctypes
    return ctypes.sizeof(cls)
