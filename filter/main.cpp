#include "bulwark/filter/run.h"

int main(int argc, char** argv) { return bulwark::filter::run(argc, argv); }
