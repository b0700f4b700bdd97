/* Host build of the device firmware (tests only): the "board" is a TCP socket. */
#ifndef TINYRNN_BOARD_CONFIG_H
#define TINYRNN_BOARD_CONFIG_H

#define BOARD_NAME "host"
#define BOARD_SYSTICK_HZ 1000000u /* board_ticks() counts microseconds */

#endif
