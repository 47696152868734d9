"""One PyTorch measurement with the shared reference models (../shared/bench/torch_ref.py),
so tools/bench.sh can interleave it with dnntrouble's own: bench_torch.py MODEL BATCH THREADS SECONDS.
The JSON line also names the OpenBLAS kernel this process runs (`blas_kernel`): Debian's PyTorch
takes its BLAS from the system OpenBLAS, whose kernel bench.sh sets through OPENBLAS_CORETYPE."""
import ctypes, importlib.util, json, os, sys

here = os.path.dirname(os.path.abspath(__file__))
ref_path = os.path.join(here, "..", "..", "shared", "bench", "torch_ref.py")
spec = importlib.util.spec_from_file_location("torch_ref", ref_path)
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)
torch = ref.torch

name, batch, threads, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
torch.set_num_threads(threads)
torch.manual_seed(0)
y = torch.randint(0, 10, (batch,))
if name == "lenet":
    r = ref.bench("lenet", ref.LeNet(), torch.randn(batch, 1, 28, 28), y, seconds)
elif name == "mlp":
    r = ref.bench("mlp", ref.MLP(), torch.randn(batch, 1, 28, 28), y, seconds)
elif name == "resnet":
    r = ref.bench("resnet", ref.ResNet8(), torch.randn(batch, 1, 28, 28), y, seconds)
elif name == "transformer":
    r = ref.bench("transformer", ref.Transformer(), torch.randn(batch, 28, 28), y, seconds)
else:
    r = ref.bench("lstm", ref.LSTMNet(), torch.randn(batch, 28, 28), y, seconds)

def openblas():
    """(openblas_get_corename(), openblas_get_num_threads()) of the OpenBLAS loaded into this
    process, or ("", 0) when none is.  Debian's torch.set_num_threads() does not reach OpenBLAS's
    own thread pool: tools/bench.sh sets OPENBLAS_NUM_THREADS, and this reports what took effect."""
    with open("/proc/self/maps") as f:
        libs = sorted({l.split()[-1] for l in f if "openblas" in l and ".so" in l})
    for lib in libs:
        try:
            dll = ctypes.CDLL(lib)
            core, nthreads = dll.openblas_get_corename, dll.openblas_get_num_threads
        except (OSError, AttributeError):
            continue
        core.restype = ctypes.c_char_p
        return core().decode(), nthreads()
    return "", 0

r["blas_kernel"], r["blas_threads"] = openblas()
print(json.dumps(r), flush=True)
