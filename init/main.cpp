#include "bulwark/init/run.h"

int main(int argc, char** argv) { return bulwark::init::run(argc, argv); }
