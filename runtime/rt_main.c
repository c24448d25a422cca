/* rt_main.c — main() of every executable nnc builds; linked as rt_main.o, not part of
 * libnncrt.a, so the JIT (which has its own main) can link the library alone. */
#include "nnc_rt.h"

int main(int argc, char **argv)
{
    rt_init(argc, argv);
    nnc_program();
    return rt_exit();
}
