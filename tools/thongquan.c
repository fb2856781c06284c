/* thongquan.c - the command line: argument parsing, messages and exit statuses. */
#include <stdio.h>
int main(void) { puts("thongquan: not yet"); return 2; }
