#include <cstdio>
int main() { std::puts("webaccel: CLI under construction"); return 1; }
