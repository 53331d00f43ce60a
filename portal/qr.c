/*  qr.c — a booking reference as a QR code in SVG, for the confirmation page
 *  and the kiosk's scanner (libqrencode draws the modules; this writes one
 *  path, so the image stays around 3 KB).
 */
#include "portal/internal.h"

#include <qrencode.h>
#include <string.h>

#define QR_MARGIN 4                     /* quiet zone, modules */

char *
qr_svg(const char *text, size_t *len)
{
    QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!q)
        return NULL;
    int w = q->width, size = w + 2 * QR_MARGIN;
    size_t cap = 256 + (size_t) w * (size_t) w * 16;
    char *svg = malloc(cap);
    if (!svg) {
        QRcode_free(q);
        return NULL;
    }
    int n = snprintf(svg, cap, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
                     "shape-rendering=\"crispEdges\"><rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>"
                     "<path fill=\"#000\" d=\"", size, size, size, size);
    for (int y = 0; y < w; y++)
        for (int x = 0; x < w; x++)
            if (q->data[y * w + x] & 1)
                n += snprintf(svg + n, cap - (size_t) n, "M%d %dh1v1h-1z", x + QR_MARGIN, y + QR_MARGIN);
    n += snprintf(svg + n, cap - (size_t) n, "\"/></svg>");
    QRcode_free(q);
    *len = (size_t) n;
    return svg;
}
