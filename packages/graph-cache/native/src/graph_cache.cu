// Launchers of the graph-cache kernels (filled in by the kernel work).
#include <cuda_runtime.h>
