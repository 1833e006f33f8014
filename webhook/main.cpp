#include "bulwark/webhook/run.h"

int main(int argc, char** argv) { return bulwark::webhook::run(argc, argv); }
