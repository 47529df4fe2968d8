#include <spandsp.h>
