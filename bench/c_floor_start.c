/* The floor of process start (issue 13, part 2): a program that does nothing
 * but is linked with libvirt (bench/CMakeLists.txt links it with -lvirt and
 * --no-as-needed, so the dynamic loader maps and relocates libvirt.so and its
 * dependencies as it does for any libvirt client). `virtform --version`
 * against this is what virtform itself adds to process start.
 */
int main(void) { return 0; }
