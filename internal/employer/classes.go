package employer

// Industries are the sections of GB/T 4754-2017 (国民经济行业分类), the
// classification the bureau's statistics use; an employer declares its
// section letter at registration.
var Industries = []Class{
	{"A", "农、林、牧、渔业"}, {"B", "采矿业"}, {"C", "制造业"},
	{"D", "电力、热力、燃气及水生产和供应业"}, {"E", "建筑业"}, {"F", "批发和零售业"},
	{"G", "交通运输、仓储和邮政业"}, {"H", "住宿和餐饮业"}, {"I", "信息传输、软件和信息技术服务业"},
	{"J", "金融业"}, {"K", "房地产业"}, {"L", "租赁和商务服务业"}, {"M", "科学研究和技术服务业"},
	{"N", "水利、环境和公共设施管理业"}, {"O", "居民服务、修理和其他服务业"}, {"P", "教育"},
	{"Q", "卫生和社会工作"}, {"R", "文化、体育和娱乐业"}, {"S", "公共管理、社会保障和社会组织"},
	{"T", "国际组织"},
}

// Sizes are the enterprise sizes of 统计上大中小微型企业划分办法.
var Sizes = []Class{{"large", "大型"}, {"medium", "中型"}, {"small", "小型"}, {"micro", "微型"}}

// Class is one value of a classification: its code and Chinese name.
type Class struct{ Code, Name string }

// ClassName returns the name of code in cs, "" for an unknown code.
func ClassName(cs []Class, code string) string {
	for _, c := range cs {
		if c.Code == code {
			return c.Name
		}
	}
	return ""
}
