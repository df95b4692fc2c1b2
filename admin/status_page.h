// The admin port's status page (GET /): admin/status_page.html, embedded in the binary at build
// time (admin/embed_text.cmake), so it is read and edited as HTML and needs no file at run time.
#pragma once

#include <string_view>

namespace rpcgate::admin {

std::string_view status_page_html();

}  // namespace rpcgate::admin
