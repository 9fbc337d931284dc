/*
 * inventory.c - cards to JSON with yajl.
 *
 * yajl_gen_status errors are sticky in the generator (every later call
 * fails too), so the emitters ignore them and only the final
 * yajl_gen_get_buf() result is checked.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "inventory.h"
#include "pciback-helper/util.h"

static void str(yajl_gen g, const char *s)
{
    yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void kv_str(yajl_gen g, const char *k, const char *v)
{
    str(g, k);
    if (v)
        str(g, v);
    else
        yajl_gen_null(g);
}

static void kv_int(yajl_gen g, const char *k, long long v)
{
    str(g, k);
    yajl_gen_integer(g, v);
}

static void kv_bool(yajl_gen g, const char *k, bool v)
{
    str(g, k);
    yajl_gen_bool(g, v);
}

/* An int member, or null when V < 0 ("unknown"). */
static void kv_opt(yajl_gen g, const char *k, long long v)
{
    str(g, k);
    if (v < 0)
        yajl_gen_null(g);
    else
        yajl_gen_integer(g, v);
}

static void kv_hex(yajl_gen g, const char *k, unsigned v, int digits)
{
    char buf[16];

    snprintf(buf, sizeof(buf), "%0*x", digits, v);
    kv_str(g, k, buf);
}

static void gen_bar(yajl_gen g, const xengpu_bar *bar)
{
    yajl_gen_map_open(g);
    kv_int(g, "index", bar->index);
    kv_int(g, "size", (long long)bar->size);
    kv_bool(g, "is64", bar->is64);
    kv_bool(g, "prefetch", bar->prefetch);
    kv_bool(g, "io", bar->io);
    kv_bool(g, "assigned", bar->assigned);
    yajl_gen_map_close(g);
}

static void gen_bars(yajl_gen g, const xengpu_pcidev *dev)
{
    unsigned i;

    str(g, "bars");
    yajl_gen_array_open(g);
    for (i = 0; dev->res_known && i < dev->res.nbars; i++)
        gen_bar(g, &dev->res.bars[i]);
    yajl_gen_array_close(g);
}

static void gen_ids(yajl_gen g, const xengpu_pcidev *dev)
{
    kv_str(g, "bdf", dev->name);
    if (dev->ids_known) {
        kv_hex(g, "vendor", dev->vendor, 4);
        kv_hex(g, "device", dev->device, 4);
        kv_hex(g, "class", dev->class, 6);
    } else {
        kv_str(g, "vendor", NULL);
        kv_str(g, "device", NULL);
        kv_str(g, "class", NULL);
    }
}

static void gen_link(yajl_gen g, const xengpu_pcicfg *cfg)
{
    str(g, "link");
    if (!cfg->has_link) {
        yajl_gen_null(g);
        return;
    }
    yajl_gen_map_open(g);
    kv_str(g, "speed", xengpu_pcicfg_speed_name(cfg->link_speed));
    kv_int(g, "width", cfg->link_width);
    kv_str(g, "max_speed", xengpu_pcicfg_speed_name(cfg->link_max_speed));
    kv_int(g, "max_width", cfg->link_max_width);
    yajl_gen_map_close(g);
}

static void gen_sriov(yajl_gen g, const xengpu_pcidev *dev)
{
    char pf[XENGPU_BDF_STRLEN];

    str(g, "sriov");
    if (dev->sriov_total < 0) {
        yajl_gen_null(g);
    } else {
        yajl_gen_map_open(g);
        kv_int(g, "total", dev->sriov_total);
        kv_opt(g, "enabled", dev->sriov_num);
        yajl_gen_map_close(g);
    }
    if (dev->is_vf) xengpu_bdf_format(&dev->physfn, pf, sizeof(pf));
    kv_str(g, "physfn", dev->is_vf ? pf : NULL);
}

static void gen_function(yajl_gen g, const xengpu_pcidev *dev)
{
    yajl_gen_map_open(g);
    gen_ids(g, dev);
    kv_str(g, "driver", dev->driver);
    kv_opt(g, "iommu_group", dev->iommu_group);
    gen_bars(g, dev);
    kv_str(g, "reset", xengpu_reset_name(dev->reset));
    kv_bool(g, "reset_from_kernel", dev->reset_method_known);
    kv_bool(g, "rom", dev->res_known && dev->res.has_rom);
    kv_bool(g, "boot_vga", dev->boot_vga);
    kv_bool(g, "fell_off_bus", dev->dead);
    kv_bool(g, "config_complete",
            dev->cfg.header && dev->cfg.caps_complete &&
                dev->cfg.ext_complete);
    gen_link(g, &dev->cfg);
    gen_sriov(g, dev);
    yajl_gen_map_close(g);
}

static void gen_dev_list(yajl_gen g, const char *k,
                         const xengpu_pcidev *const *devs, size_t n)
{
    size_t i;

    str(g, k);
    yajl_gen_array_open(g);
    for (i = 0; i < n; i++)
        str(g, devs[i]->name);
    yajl_gen_array_close(g);
}

static void gen_card_detail(yajl_gen g, const xengpu_card *card)
{
    kv_str(g, "isolation_source",
           card->groups_from_sysfs ? "iommu_groups" : "topology");
    kv_str(g, "shares_iommu_with",
           card->shares_with ? card->shares_with->name : NULL);
    kv_str(g, "not_isolated_why", card->not_isolated_why);
    kv_bool(g, "bus_reset_possible", card->bus_reset_possible);
    kv_bool(g, "reset_quirk", card->reset_quirk);
    kv_bool(g, "fell_off_bus", card->dead);
    kv_bool(g, "is_vf", card->is_vf);
    kv_str(g, "primary", card->primary->name);
    gen_dev_list(g, "switch_ports", card->switch_ports, card->nswitch_ports);
    gen_dev_list(g, "upstream", card->upstream, card->nupstream);
    gen_link(g, &card->primary->cfg);
}

static void gen_card(yajl_gen g, const xengpu_card *card)
{
    const xengpu_pcidev *fn0 = card->fns[0];
    size_t i;

    yajl_gen_map_open(g);
    gen_ids(g, fn0);
    str(g, "functions");
    yajl_gen_array_open(g);
    for (i = 0; i < card->nfns; i++)
        gen_function(g, card->fns[i]);
    yajl_gen_array_close(g);
    kv_str(g, "reset", xengpu_reset_name(card->reset));
    kv_bool(g, "iommu_isolated", card->isolated);
    kv_bool(g, "boot_vga", card->boot_vga);
    kv_opt(g, "numa_node", fn0->numa_node);
    gen_bars(g, fn0);
    kv_str(g, "state", xengpu_card_state_name(card->state));
    kv_opt(g, "domain", card->domid);
    gen_card_detail(g, card);
    yajl_gen_map_close(g);
}

static int finish(yajl_gen g, char **json_r)
{
    const unsigned char *buf;
    size_t len;
    char *s;

    if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
        yajl_gen_free(g);
        return -EIO;
    }
    s = xengpu__xmalloc(len + 2);
    memcpy(s, buf, len);
    s[len] = '\n';
    s[len + 1] = '\0';
    yajl_gen_free(g);
    *json_r = s;
    return 0;
}

static yajl_gen new_gen(bool pretty)
{
    yajl_gen g = yajl_gen_alloc(NULL);

    if (!g) xengpu__oom();
    yajl_gen_config(g, yajl_gen_beautify, pretty ? 1 : 0);
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    return g;
}

int xengpu_inventory_json(const xengpu_host *host, bool pretty, char **json_r)
{
    yajl_gen g = new_gen(pretty);
    size_t i;

    yajl_gen_map_open(g);
    str(g, "cards");
    yajl_gen_array_open(g);
    for (i = 0; i < xengpu_host_ncards(host); i++)
        gen_card(g, xengpu_host_card(host, i));
    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
    return finish(g, json_r);
}

int xengpu_card_json(const xengpu_host *host, const xengpu_card *card,
                     bool pretty, char **json_r)
{
    yajl_gen g = new_gen(pretty);

    (void)host;
    gen_card(g, card);
    return finish(g, json_r);
}
